#!/usr/bin/env bash
# Paper Table 1 (QC strategies on one pool of solved problems), on a SLURM cluster with GPUs:
#   FLAMES_DATA_DIR=/data FLAMES_STORE=/shared/flames-store bash launch/table1_qc.sh hydra.launcher.partition=gpu
# The paper: 150K suggester_editor problems, 3 solutions each, DeepSeek-Math-7B student.
set -euo pipefail
flames -m experiment=paper hydra/launcher=slurm hydra.launcher.gpus_per_node=8 \
  agent=suggester_editor solve.num_samples=3 qc=first,majority,majority_first,strict "$@"
