#!/usr/bin/env bash
# bash launch/table5_models.sh [overrides]   (the paper's table5_models on a SLURM cluster; add study.dry_run=true first;
# settings: launch/env.example; your cluster's profile: FLAMES_LAUNCHER=<name> with --config-dir myconf, docs/slurm.md)
set -euo pipefail
flames study=table5_models experiment=paper hydra/launcher=${FLAMES_LAUNCHER:-slurm} "$@"
