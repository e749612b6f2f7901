#!/usr/bin/env bash
# bash launch/transfer.sh [overrides]   (the paper's transfer on a SLURM cluster; add study.dry_run=true first;
# settings: launch/env.example; your cluster's profile: FLAMES_LAUNCHER=<name> with --config-dir myconf, docs/slurm.md)
set -euo pipefail
flames study=transfer experiment=paper hydra/launcher=${FLAMES_LAUNCHER:-slurm} "$@"
