#!/usr/bin/env bash
# bash launch/table2_agents.sh [overrides]   (the paper's table2_agents on a SLURM cluster; add study.dry_run=true first;
# settings: launch/env.example; your cluster's profile: FLAMES_LAUNCHER=<name> with --config-dir myconf, docs/slurm.md)
set -euo pipefail
flames study=table2_agents experiment=paper hydra/launcher=${FLAMES_LAUNCHER:-slurm} "$@"
