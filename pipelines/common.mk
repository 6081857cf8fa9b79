# Shared by the pipelines: where the programs are, and how a stage's parameters become a file that make
# can compare, so that editing one parameter reruns that stage and what follows it, nothing upstream.
#
# A pipeline sets DATASET and includes this file. Intermediate files go to build/pipelines/$(DATASET)/,
# results (one JSON per run and table.md) to results/$(DATASET)/.

ROOT    := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
BIN     ?= $(ROOT)/build/bin
WORK    ?= $(ROOT)/build/pipelines/$(DATASET)
RESULTS ?= $(ROOT)/results/$(DATASET)
SEEDS   ?= 0 1 2
THREADS ?=

PREP := $(BIN)/ssl-prep
AUG  := $(BIN)/ssl-augment
FIT  := $(BIN)/ssl-fit
EVAL := $(BIN)/ssl-eval
VAE  := $(BIN)/ssl-vae
GAN  := $(BIN)/ssl-gan
GRAPH := $(BIN)/ssl-graph

# $(call params,NAME,TEXT): the file $(WORK)/params/NAME holding TEXT, rewritten only when TEXT changed.
# A stage lists $(call params,...) among its prerequisites and uses the same text on its command line.
params = $(shell mkdir -p $(WORK)/params; f=$(WORK)/params/$(1); \
           printf '%s\n' '$(2)' | cmp -s - $$f || printf '%s\n' '$(2)' > $$f; echo $$f)

# The programs. With the repository's own build (BIN not set elsewhere) the top Makefile's `all` builds
# what is missing or out of date before the first stage: a dataset pipeline puts $(PIPELINE_TOOLS) as an
# order-only prerequisite of the stages that start from raw data, so a fresh clone runs in one command,
# and a rebuilt program does not rerun the stages. (Not the default goal: the dataset's first rule is.)
PIPELINE_TOOLS := $(if $(filter $(ROOT)/build/bin,$(BIN)),pipeline-tools)
.PHONY: pipeline-tools
pipeline-tools:
	@$(MAKE) --no-print-directory -C $(ROOT) all
.DEFAULT_GOAL :=

# `$(TIMED) FILE command...` runs a command and writes its wall time in seconds to FILE.
TIMED := $(ROOT)/pipelines/timed

.DELETE_ON_ERROR:
.SECONDARY:

# ---- the experiment grid --------------------------------------------------------------------------
# A dataset pipeline provides $(WORK)/train_s.ssl (scaled training split, all labels) and
# $(WORK)/test_s.ssl (test split scaled with the training statistics), and sets LABEL_SETS (labels per
# class kept, e.g. "10 100") and NUM_CLASSES. A method NAME makes, for a label set L and a seed S,
#   $(WORK)/L<L>/s<S>/NAME.pred.ssl   (the test split with p added)
# from $(WORK)/L<L>/s<S>/labelled.ssl; the grid evaluates every method at its label sets and every seed into
# results/$(DATASET)/NAME-L<L>-s<S>.json and builds table.md. The label set "all" keeps every label (a
# reference ceiling, not a semi-supervised setting).

METHODS :=

# Label masking: keep L labels per class (balanced, chosen by the seed), the rest become -1.
define label_set
$(WORK)/L$(1)/s%/labelled.ssl: $(WORK)/train_s.ssl
	@mkdir -p $$(@D)
	$(if $(filter all,$(1)),ln -sf $$< $$@,$(PREP) mask --labels-per-class $(1) --seed $$* $$< -o $$@)
endef

# $(call eval_run,NAME,L): one JSON per run, with the training time the method's recipe recorded: the sum
# of the run folder's files TIMES_<NAME> (default NAME.time, written by $(TIMED)), in seconds.
define eval_run
$(RESULTS)/$(1)-L$(2)-s%.json: $(WORK)/L$(2)/s%/$(1).pred.ssl
	@mkdir -p $$(@D)
	$(EVAL) --json --tag method=$(1) --tag dataset=$(DATASET) --tag labels_per_class=$(2) \
	  $(if $(filter all,$(2)),,--tag labels=$(shell echo $$(( $(2) * $(NUM_CLASSES) )))) --tag seed=$$* \
	  --tag seconds=$$$$(cd $(WORK)/L$(2)/s$$* && cat $(or $(TIMES_$(1)),$(1).time) | awk '{ s += $$$$1 } END { printf "%.2f", s }') \
	  $$< -o $$@
	@$(call run_line,$(1),$(2),$$*,$$@)
endef

# $(call run_line,NAME,L,SEED,JSON): one line for a finished run: "run  NAME  L<L>  s<SEED>  accuracy A%  T s".
run_line = awk -v m='$(1)' -v l='$(2)' -v s='$(3)' '{ \
	  match($$$$0, /"accuracy":[-0-9.eE+]+/); a = substr($$$$0, RSTART + 11, RLENGTH - 11); \
	  match($$$$0, /"seconds":[-0-9.eE+]+/); t = substr($$$$0, RSTART + 10, RLENGTH - 10); \
	  printf "run  %-16s L%-4s s%-3s accuracy %5.1f%%  %8.1f s\n", m, l, s, 100 * a, t }' $(4)

# The seed of a run from the stem "<L>/s<seed>" of a pattern rule; --threads when THREADS is set.
run_seed = $(lastword $(subst /s, ,$(1)))
THREADS_ARG = $(if $(THREADS),--threads $(THREADS))

# $(call declare_method,NAME[,LABEL_SETS]): registers a method for the grid (default: every label set).
define declare_method
METHODS += $(1)
LSETS_$(1) := $(or $(2),$(LABEL_SETS))
endef

# $(call figure_kind,NAME,PROGRAM,TRAIN_INPUT): what the figures draw of a trained method: an ssl-fit
# classifier's loss; an M2's (every ssl-vae method is one) loss, accuracy and, on pixels, samples; a
# GAN's losses, D's accuracy and G's samples; the M1's loss and samples when the method uses its latents.
define figure_kind
$(if $(filter $(2),$(FIT)),FIG_FIT += $(1))
$(if $(filter $(2),$(VAE)),FIG_M2 += $(1))
$(if $(filter $(2),$(VAE)),$(if $(3),,FIG_SAMPLES += $(1).model))
$(if $(filter $(2),$(GAN)),FIG_GAN += $(1)
FIG_SAMPLES += $(1).model)
$(if $(filter m1z.ssl,$(3)),FIG_M1 := yes)
endef

# $(call trained_method,NAME,PROGRAM,TRAIN_ARGS[,LABEL_SETS[,TRAIN_INPUT,TEST_INPUT]]): a model trained by
# `PROGRAM train` on the run's labelled stream (its unlabelled rows included: semi-supervised programs use
# them), then `PROGRAM predict` on the test split. ssl-fit, ssl-gan and ssl-vae (M2) share this interface.
# TRAIN_INPUT and TEST_INPUT name other streams of the run's folder (default labelled.ssl and the test split),
# e.g. m1z.ssl and m1z_test.ssl, the M1 latents. The test split is made first, so that TRAIN_ARGS may log a
# learning curve on it (--val).
define trained_method
$(eval $(call declare_method,$(1),$(4)))
$(eval $(call figure_kind,$(1),$(2),$(5)))
$(WORK)/L%/$(1).model $(WORK)/L%/$(1).log: $(WORK)/L%/$(or $(5),labelled.ssl) $(call params,$(1),$(3)) \
    | $(WORK)/test_s.ssl
	$(TIMED) $$(@D)/$(1).time $(2) train $(3) $(THREADS_ARG) --seed $$(call run_seed,$$*) --quiet \
	  --log $$(@D)/$(1).log $$< -o $$(@D)/$(1).model
$(WORK)/L%/$(1).pred.ssl: $(WORK)/L%/$(1).model $(if $(6),$(WORK)/L%/$(6),$(WORK)/test_s.ssl)
	$(2) predict $(THREADS_ARG) -m $$< $$(word 2,$$^) -o $$@
endef

# $(call fit_method,NAME,SSL_FIT_TRAIN_ARGS[,LABEL_SETS]): a classifier trained by ssl-fit on the labelled
# rows only (it ignores y = -1), predicted on the test split.
fit_method = $(call trained_method,$(1),$(FIT),$(2),$(3))

# $(call aug_method,NAME,SSL_AUGMENT_ARGS,RUN_FILES[,LABEL_SETS]): ssl-augment on the labelled rows (and
# the unlabelled ones), then an MLP (MLP_ARGS) on its output. RUN_FILES are the models of the same run it
# uses (e.g. mlp.model, aug-m2.vae); in the arguments @RUN@ stands for the run's folder. The run's time
# adds up the augmentation, the MLP and the models it used.
define aug_method
$(eval $(call declare_method,$(1),$(4)))
FIG_FIT += $(1)
FIG_GENERATORS += $(filter-out $(FIG_GENERATORS),$(filter %.vae %.gan,$(3)))
$(WORK)/L%/$(1).aug.ssl: $(WORK)/L%/labelled.ssl $(addprefix $(WORK)/L%/,$(3)) $(call params,$(1)-aug,$(2))
	$(TIMED) $$(@D)/$(1).aug.time $(AUG) --quiet $(THREADS_ARG) $$(subst @RUN@,$$(@D),$(2)) \
	  --seed $$(call run_seed,$$*) $$< -o $$@
$(WORK)/L%/$(1).model $(WORK)/L%/$(1).log: $(WORK)/L%/$(1).aug.ssl $(call params,$(1),$(MLP_ARGS))
	$(TIMED) $$(@D)/$(1).fit.time $(FIT) train $(MLP_ARGS) $(THREADS_ARG) --seed $$(call run_seed,$$*) --quiet \
	  --log $$(@D)/$(1).log $$< -o $$(@D)/$(1).model
	cat $$(@D)/$(1).aug.time $$(@D)/$(1).fit.time $(foreach f,$(basename $(3)),$$(@D)/$(f).time) \
	  | awk '{ s += $$$$1 } END { printf "%.2f\n", s }' > $$(@D)/$(1).time
$(WORK)/L%/$(1).pred.ssl: $(WORK)/L%/$(1).model $(WORK)/test_s.ssl
	$(FIT) predict $(THREADS_ARG) -m $$< $(WORK)/test_s.ssl -o $$@
endef

# $(call sweep_method,NAME,PARAM,VALUES,SSL_AUGMENT_ARGS[,SSL_FIT_ARGS[,LABEL_SETS]]): pipelines/sweep.sh
# picks PARAM among VALUES on a validation split carved from the labelled rows, then trains on them all and
# predicts the test split. SSL_AUGMENT_ARGS "none" sweeps an ssl-fit option of the classifier (SSL_FIT_ARGS,
# default MLP_ARGS) on the labelled rows alone: a baseline tuned as the methods are.
define sweep_method
$(eval $(call declare_method,$(1),$(6)))
$(WORK)/L%/$(1).pred.ssl: $(WORK)/L%/labelled.ssl $(WORK)/test_s.ssl $(call params,$(1),$(2) $(3) $(4) $(or $(5),$(MLP_ARGS)))
	$(TIMED) $$(@D)/$(1).time env BIN=$(BIN) PARAM='$(2)' VALUES='$(3)' \
	  AUG_ARGS='$(if $(filter none,$(4)),none,$(4) $(THREADS_ARG))' FIT_ARGS='$(or $(5),$(MLP_ARGS)) $(THREADS_ARG)' \
	  SEED=$$(call run_seed,$$*) sh $(ROOT)/pipelines/sweep.sh $$< $(WORK)/test_s.ssl $$(@D)/$(1)
	cp $$(@D)/$(1)/pred.ssl $$@
endef

# The rules below are written before a pipeline sets their parameters (M1_ARGS, AUG_M2_ARGS, AUG_CGAN_ARGS):
# their params files are named in the second expansion ($$(call params,...)), when every variable is set.
# A params file written that late may be missing from make's view of the folder: this empty rule lets a
# rule name it all the same (it exists once named).
$(WORK)/params/%: ;
#
# M1 (Kingma et al. 2014): a VAE trained on every training row (labels unused), one per seed; each run
# gets its labelled rows and the test split as latents (x replaced by mu(x)): m1z.ssl, m1z_test.ssl, and
# the M1's training time as m1.time. A pipeline using them sets M1_ARGS, and may set M1Z_ARGS, the encode
# options of the run's rows (e.g. --replace --sd: the posterior sd as x_sd too, so that M2 trains on samples;
# --min-sd 0.1: only the latent units that carry information); the test split is encoded alike, without --sd.
M1Z_ARGS ?= --replace
.SECONDEXPANSION:
$(WORK)/m1/s%.vae $(WORK)/m1/s%.log: $(WORK)/train_s.ssl $$(call params,m1,$$(M1_ARGS))
	@mkdir -p $(@D)
	$(TIMED) $(WORK)/m1/s$*.time $(VAE) train $(M1_ARGS) $(THREADS_ARG) --seed $* --quiet \
	  --log $(WORK)/m1/s$*.log $< -o $(WORK)/m1/s$*.vae
$(WORK)/L%/m1z.ssl: $(WORK)/L%/labelled.ssl $$(WORK)/m1/s$$(call run_seed,$$*).vae $$(call params,m1z,$$(M1Z_ARGS))
	$(VAE) encode $(THREADS_ARG) -m $(word 2,$^) $(M1Z_ARGS) $< -o $@
	cp $(WORK)/m1/s$(call run_seed,$*).time $(@D)/m1.time
$(WORK)/L%/m1z_test.ssl: $(WORK)/test_s.ssl $$(WORK)/m1/s$$(call run_seed,$$*).vae $$(call params,m1z,$$(M1Z_ARGS))
	$(VAE) encode $(THREADS_ARG) -m $(word 2,$^) $(filter-out --sd,$(M1Z_ARGS)) $< -o $@
# The run's rows with M1's latents z added beside x (M1Z_ARGS without --replace and --sd), for a stage
# that measures distances on z and trains on x (m1-graph-conv).
M1ZX_ARGS = $(filter-out --replace --sd,$(M1Z_ARGS))
$(WORK)/L%/m1zx.ssl: $(WORK)/L%/labelled.ssl $$(WORK)/m1/s$$(call run_seed,$$*).vae $$(call params,m1zx,$$(M1ZX_ARGS))
	$(VAE) encode $(THREADS_ARG) -m $(word 2,$^) $(M1ZX_ARGS) $< -o $@
	cp $(WORK)/m1/s$(call run_seed,$*).time $(@D)/m1.time

# Generators for augmentation, one per run (trained on its labelled + unlabelled rows): a class-conditional
# M2 (AUG_M2_ARGS) and a conditional GAN (AUG_CGAN_ARGS); their time is NAME.time in the run's folder.
# An M2 with the m2 method's very arguments would be that method's model again (same command, same seed):
# the run's m2.model is copied instead, with its log and time.
same_words = $(and $(findstring $(strip $(1)),$(strip $(2))),$(findstring $(strip $(2)),$(strip $(1))))
aug_m2_is_m2 = $(and $(filter m2,$(METHODS)),$(call same_words,$(AUG_M2_ARGS),$(M2_ARGS)))
$(WORK)/L%/aug-m2.vae $(WORK)/L%/aug-m2.log: $(WORK)/L%/labelled.ssl $$(call params,aug-m2,$$(AUG_M2_ARGS)) \
    $$(if $$(aug_m2_is_m2),$(WORK)/L$$*/m2.model)
	$(if $(aug_m2_is_m2),cp $(@D)/m2.model $(@D)/aug-m2.vae && cp $(@D)/m2.log $(@D)/aug-m2.log \
	  && cp $(@D)/m2.time $(@D)/aug-m2.time,$(TIMED) $(@D)/aug-m2.time $(VAE) train $(AUG_M2_ARGS) $(THREADS_ARG) \
	  --seed $(call run_seed,$*) --quiet --log $(@D)/aug-m2.log $< -o $(@D)/aug-m2.vae)
$(WORK)/L%/aug-cgan.gan $(WORK)/L%/aug-cgan.log: $(WORK)/L%/labelled.ssl $$(call params,aug-cgan,$$(AUG_CGAN_ARGS))
	$(TIMED) $(@D)/aug-cgan.time $(GAN) train $(AUG_CGAN_ARGS) $(THREADS_ARG) --seed $(call run_seed,$*) --quiet \
	  --log $(@D)/aug-cgan.log $< -o $(@D)/aug-cgan.gan

# The methods every data set compares: supervised-only baselines on the labelled rows (with their defaults,
# and with the learning rate picked on a validation split of the labelled rows, as self-training's
# threshold is), the MLP on every label as the reference ceiling, self-training with confident
# pseudo-labels (3 rounds) and its threshold picked on a validation split of the labelled rows.
MLP_ARGS    ?= --hidden 128,64
LOGREG_ARGS ?= --hidden 0
MLP_LRS     ?= 0.0003 0.001 0.003 0.01
LOGREG_LRS  ?= 0.003 0.01 0.03 0.1
SELF_ARGS   ?= --pseudo @RUN@/mlp.model --threshold 0.9 --rounds 3
define baseline_methods
$(eval $(call fit_method,mlp,$(MLP_ARGS)))
$(eval $(call fit_method,logreg,$(LOGREG_ARGS)))
$(eval $(call sweep_method,mlp-sweep,--lr,$(MLP_LRS),none,$(MLP_ARGS)))
$(eval $(call sweep_method,logreg-sweep,--lr,$(LOGREG_LRS),none,$(LOGREG_ARGS)))
$(eval $(call fit_method,mlp-all-labels,$(MLP_ARGS),all))
$(eval $(call aug_method,selftrain,$(SELF_ARGS),mlp.model))
$(eval $(call sweep_method,selftrain-sweep,--threshold,0.7 0.8 0.9 0.95 0.99,--pseudo BASE --rounds 3))
endef

# Virtual adversarial training on the MLP (ssl-fit --vat, every row's prediction kept stable within a
# radius eps), alone and with entropy minimisation (--entmin 1, VAT+EntMin): eps picked on a validation
# split of the labels among VAT_EPS, as the other sweeps pick theirs. VAT_ARGS: the MLP's options.
VAT_ARGS   ?= $(MLP_ARGS)
VAT_EPS    ?= 0.3 1 3
VAT_LABELS ?= $(LABEL_SETS)
define vat_methods
$(eval $(call sweep_method,vat-sweep,--vat,$(VAT_EPS),none,$(VAT_ARGS),$(VAT_LABELS)))
$(eval $(call sweep_method,vat-entmin-sweep,--vat,$(VAT_EPS),none,$(VAT_ARGS) --entmin 1,$(VAT_LABELS)))
endef

# A convolutional classifier (ssl-fit --conv; CONV_ARGS: its options): supervised on the labelled rows
# with its learning rate picked on a validation split of the labels among CONV_LRS (conv-sweep), the row
# that tells how much of a convolutional method's gain is the convolutions; and with VAT and entropy
# minimisation on every row, eps picked among VAT_EPS (conv-vat-sweep; CONV_VAT_ARGS), at the label sets
# CONV_LABELS.
CONV_ARGS     ?= --conv 32:5:2,64:3:2 --batch-norm --shift 2 --epochs 500 --patience 1000
CONV_LRS      ?= 0.0003 0.001 0.003
CONV_VAT_ARGS ?= --conv 32:5:2,64:3:2 --batch-norm --shift 2 --lr 0.002 --unlabelled-batch 250 --epochs 500 --entmin 1
CONV_LABELS   ?= $(LABEL_SETS)
# FixMatch (Sohn et al. 2020) on the same net (conv-fixmatch; CONV_FM_ARGS): the confident predictions on
# weak views of the rows (moved, and mirrored where a pipeline adds --flip) become the pseudo-labels of
# strong views (the same with a square cut out), at the paper's threshold 0.95 and weight 1 (not swept),
# the learning rate falling linearly to 0 over the steps.
CONV_FM_ARGS  ?= --conv 32:5:2,64:3:2 --batch-norm --shift 2 --lr 0.002 --lr-decay-start 1 --unlabelled-batch 250 \
                 --epochs 3000 --fixmatch 1
define conv_methods
$(eval $(call sweep_method,conv-sweep,--lr,$(CONV_LRS),none,$(CONV_ARGS),$(CONV_LABELS)))
$(eval $(call sweep_method,conv-vat-sweep,--vat,$(VAT_EPS),none,$(CONV_VAT_ARGS),$(CONV_LABELS)))
$(eval $(call fit_method,conv-fixmatch,$(CONV_FM_ARGS),$(CONV_LABELS)))
endef

# Graph-based label propagation (ssl-graph): a 10-nearest-neighbour graph over the training split and
# the test split together (transductive: the test rows are unlabelled nodes of the graph), the labels
# spread by Poisson learning (graph) or label spreading (graph-spread); graph-sweep picks the number of
# neighbours among GRAPH_KS on a validation split of the labels; m1-graph and m1-graph-spread run on the
# M1's latents (a pipeline that has an M1). GRAPH_ARGS: ssl-graph's options.
GRAPH_ARGS ?=
GRAPH_KS   ?= 5 10 20
# $(call graph_method,NAME,SSL_GRAPH_ARGS[,TRAIN_INPUT,TEST_INPUT]): inputs as trained_method's.
define graph_method
$(eval $(call declare_method,$(1)))
$(WORK)/L%/$(1).pred.ssl: $(WORK)/L%/$(or $(3),labelled.ssl) $(if $(4),$(WORK)/L%/$(4),$(WORK)/test_s.ssl) \
    $(call params,$(1),$(2))
	$(TIMED) $$(@D)/$(1).time $(GRAPH) --quiet $(2) $(THREADS_ARG) --train $$< $$(word 2,$$^) -o $$@
endef
define graph_methods
$(eval $(call graph_method,graph,$(GRAPH_ARGS)))
$(eval $(call graph_method,graph-spread,$(GRAPH_ARGS) --method spread))
$(eval $(call declare_method,graph-sweep))
$(WORK)/L%/graph-sweep.pred.ssl: $(WORK)/L%/labelled.ssl $(WORK)/test_s.ssl $(call params,graph-sweep,$(GRAPH_ARGS) $(GRAPH_KS))
	$(TIMED) $$(@D)/graph-sweep.time env BIN=$(BIN) PARAM=--neighbours VALUES='$(GRAPH_KS)' AUG_ARGS=graph \
	  GRAPH_ARGS='$(GRAPH_ARGS) $(THREADS_ARG)' SEED=$$(call run_seed,$$*) \
	  sh $(ROOT)/pipelines/sweep.sh $$< $(WORK)/test_s.ssl $$(@D)/graph-sweep
	cp $$(@D)/graph-sweep/pred.ssl $$@
endef
define m1_graph_method
$(eval $(call graph_method,m1-graph,$(GRAPH_ARGS),m1z.ssl,m1z_test.ssl))
$(eval $(call graph_method,m1-graph-spread,$(GRAPH_ARGS) --method spread,m1z.ssl,m1z_test.ssl))
TIMES_m1-graph := m1-graph.time m1.time
TIMES_m1-graph-spread := m1-graph-spread.time m1.time
endef

# Label spreading's labels as the training set of a classifier that generalises (after Iscen et al.
# 2019): label spreading on the M1 latents of the run's rows (ssl-graph --features z, the test split
# not among them), the most confident rows of each class pseudo-labelled (ssl-augment --pseudo-from-p,
# GRAPH_PSEUDO_ARGS), then the convolutional classifier trained on them (GRAPH_CONV_ARGS) predicts the
# test split.
GRAPH_PSEUDO_ARGS ?= --threshold 0.2 --per-class 1000 --balance
GRAPH_CONV_ARGS   ?= --conv 32:5:2,64:3:2 --batch-norm --shift 2 --epochs 30 --patience 1000
define graph_conv_method
$(eval $(call declare_method,m1-graph-conv))
FIG_FIT += m1-graph-conv
$(WORK)/L%/m1-graph-conv.aug.ssl: $(WORK)/L%/m1zx.ssl $(call params,m1-graph-conv-aug,$(GRAPH_ARGS) $(GRAPH_PSEUDO_ARGS))
	$(TIMED) $$(@D)/m1-graph-conv.aug.time sh -c '$(GRAPH) --quiet --method spread --features z $(GRAPH_ARGS) \
	  $(THREADS_ARG) $$< | $(AUG) --quiet --pseudo-from-p $(GRAPH_PSEUDO_ARGS) -o $$@'
$(WORK)/L%/m1-graph-conv.model $(WORK)/L%/m1-graph-conv.log: $(WORK)/L%/m1-graph-conv.aug.ssl \
    $(call params,m1-graph-conv,$(GRAPH_CONV_ARGS))
	$(TIMED) $$(@D)/m1-graph-conv.fit.time $(FIT) train $(GRAPH_CONV_ARGS) $(THREADS_ARG) \
	  --seed $$(call run_seed,$$*) --quiet --log $$(@D)/m1-graph-conv.log $$< -o $$(@D)/m1-graph-conv.model
	cat $$(@D)/m1-graph-conv.aug.time $$(@D)/m1-graph-conv.fit.time $$(@D)/m1.time \
	  | awk '{ s += $$$$1 } END { printf "%.2f\n", s }' > $$(@D)/m1-graph-conv.time
$(WORK)/L%/m1-graph-conv.pred.ssl: $(WORK)/L%/m1-graph-conv.model $(WORK)/test_s.ssl
	$(FIT) predict $(THREADS_ARG) -m $$< $(WORK)/test_s.ssl -o $$@
endef

# The grid: call after every method is declared.
define grid
ALL_LSETS := $(sort $(foreach m,$(METHODS),$(LSETS_$(m))))
$(foreach L,$(sort $(foreach m,$(METHODS),$(LSETS_$(m)))),$(eval $(call label_set,$(L))))
$(foreach m,$(METHODS),$(foreach L,$(LSETS_$(m)),$(eval $(call eval_run,$(m),$(L)))))
RUNS := $(foreach m,$(METHODS),$(foreach L,$(LSETS_$(m)),$(foreach s,$(SEEDS),$(RESULTS)/$(m)-L$(L)-s$(s).json)))
$(RESULTS)/table.md: $$(RUNS)
	@mkdir -p $$(@D)
	{ echo "# $(DATASET): test accuracy and macro-F1 (%), mean ± std over seeds $(SEEDS)"; echo; \
	  $(EVAL) table --by method,labels_per_class --metrics accuracy,macro_f1 $$(RUNS); } > $$@.tmp && mv $$@.tmp $$@
endef


# ---- the PyTorch references -----------------------------------------------------------------------
# reference/ holds PyTorch versions of the generative methods (Debian's python3-torch). A dataset trains
# them with its own recipes on seed 0's 10-per-class labelled set, beside ours, and `make -f ... reference`
# writes both learning curves to results/$(DATASET)/reference.md.
PY      ?= /usr/bin/python3
REF_RUN  = $(WORK)/L10/s0

# $(call ref_method,NAME,SCRIPT,ARGS): the reference SCRIPT trained with ARGS on seed 0's labelled set,
# its log beside our method NAME's.
define ref_method
$(REF_RUN)/ref-$(1).log: $(REF_RUN)/labelled.ssl $(WORK)/test_s.ssl $(call params,ref-$(1),$(3))
	$(PY) $(ROOT)/reference/$(2) $(3) --seed 0 --quiet --log $$@.tmp $$< && mv $$@.tmp $$@
endef

# $(call reference_table,NAMES): the `reference` target, the two curves of every NAME compared.
define reference_table
.PHONY: reference
reference: $(RESULTS)/reference.md
	@cat $$<
$(RESULTS)/reference.md: $(foreach m,$(1),$(REF_RUN)/$(m).log $(REF_RUN)/ref-$(m).log)
	@mkdir -p $$(@D)
	$(PY) $(ROOT)/reference/compare.py $(foreach m,$(1),$(m)=$(REF_RUN)/$(m).log,$(REF_RUN)/ref-$(m).log) > $$@.tmp
	mv $$@.tmp $$@
endef
