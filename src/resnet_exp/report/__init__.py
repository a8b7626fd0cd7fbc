"""`resnet-exp report`: tables, figures and a verdict from finished (or running) run directories.

Modules, one job each:
  collect  -- find run directories and load them into `Run` / `Cell` records
  tables   -- the per-(depth, block) table (Markdown, CSV, terminal)
  verdict  -- the degradation verdict in words, plus booleans for tests
  figures  -- Figure 6 of He et al. and final error vs depth (matplotlib)
  tb       -- the figures as TensorBoard images
  cli      -- argument parsing and wiring (`main(argv) -> int`)
"""
