#!/usr/bin/env bash
# bash launch/table11_mixtures.sh [overrides]   (the paper's table11_mixtures on a SLURM cluster; add study.dry_run=true first;
# settings: launch/env.example; your cluster's profile: FLAMES_LAUNCHER=<name> with --config-dir myconf, docs/slurm.md)
set -euo pipefail
flames study=table11_mixtures experiment=paper hydra/launcher=${FLAMES_LAUNCHER:-slurm} "$@"
