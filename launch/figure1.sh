#!/usr/bin/env bash
# bash launch/figure1.sh [overrides]   (the paper's figure1 on a SLURM cluster; add study.dry_run=true first;
# settings: launch/env.example; your cluster's profile: FLAMES_LAUNCHER=<name> with --config-dir myconf, docs/slurm.md)
set -euo pipefail
flames study=figure1 experiment=paper hydra/launcher=${FLAMES_LAUNCHER:-slurm} "$@"
