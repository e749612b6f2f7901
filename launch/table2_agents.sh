#!/usr/bin/env bash
# Paper Table 2 (the twelve agents, 150K problems each, DeepSeek-Math-7B student), on a SLURM cluster:
#   FLAMES_DATA_DIR=/data FLAMES_STORE=/shared/flames-store bash launch/table2_agents.sh hydra.launcher.partition=gpu
# QFT gets a real fine-tune (ScaleQuest: 15K seed questions) in a second sweep, because its
# fine-tuning keys exist only in its config.
set -euo pipefail
AGENTS=few_shot,paraphrase,key_concepts,seeded_key_concepts,suggester_editor,iqc,ask_me_anything,self_verification,fobar,taxonomy_key_concepts,distraction_insertion
flames -m experiment=paper hydra/launcher=slurm hydra.launcher.gpus_per_node=8 agent=$AGENTS "$@"
flames -m experiment=paper hydra/launcher=slurm hydra.launcher.gpus_per_node=8 agent=qft \
  agent.train_seeds=15000 agent.train.max_steps=-1 +agent.train.num_train_epochs=1 agent.train.bf16=true "$@"
