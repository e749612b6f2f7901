"""The config root (Hydra loads it as pkg://flames.conf): one folder per config group."""
