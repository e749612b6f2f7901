#!/usr/bin/env bash
# bash launch/table1_qc.sh [overrides]   (the paper's table1_qc on a SLURM cluster; add study.dry_run=true first;
# settings: launch/env.example; your cluster's profile: FLAMES_LAUNCHER=<name> with --config-dir myconf, docs/slurm.md)
set -euo pipefail
flames study=table1_qc experiment=paper hydra/launcher=${FLAMES_LAUNCHER:-slurm} "$@"
