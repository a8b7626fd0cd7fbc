"""Report figures and text as TensorBoard images, so `tensorboard --logdir <sweep>` shows them."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def write_tensorboard(figures: dict[str, Figure], texts: dict[str, str], log_dir: Path) -> Path:
    """Write each figure as image `report/<stem>` and each text as `report/<key>`; returns log_dir.

    torch is imported here, not at module level: the rest of the report needs no torch and the
    import costs seconds.
    """
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for stem, fig in figures.items():
            # close=False: the caller owns the figures (they are also saved as files).
            writer.add_figure(f"report/{stem}", fig, global_step=0, close=False)
        for key, text in texts.items():
            writer.add_text(f"report/{key}", text, global_step=0)
    finally:
        writer.close()
    return log_dir
