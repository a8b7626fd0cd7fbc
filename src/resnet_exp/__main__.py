import sys

from resnet_exp.cli import main

# Guarded: `bench --processes` starts spawned processes, which import the main module again.
if __name__ == "__main__":
    sys.exit(main())
