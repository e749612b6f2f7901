#!/usr/bin/env bash
# bash launch/solvability_audit.sh [overrides]   (the paper's solvability_audit on a SLURM cluster; add study.dry_run=true first;
# settings: launch/env.example; your cluster's profile: FLAMES_LAUNCHER=<name> with --config-dir myconf, docs/slurm.md)
set -euo pipefail
flames study=solvability_audit experiment=paper hydra/launcher=${FLAMES_LAUNCHER:-slurm} "$@"
