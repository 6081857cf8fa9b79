# The MNIST comparison, the data the papers report: 10,000 MNIST digits shipped in data/mnist10k
# (8,000 training and 2,000 test images; MNIST=DIR names another folder of IDX files in the same
# layout), pixels scaled to [0,1], 10 labels per class kept (100 labels, the papers' setting), every
# method evaluated on the test images over seeds 0-2. The recipes were chosen on a validation split
# of the training images (docs/notes/2026-12-07-mnist-reproduction.md); the test split is only scored.
#   make -f pipelines/mnist.mk -j2     builds results/mnist/table.md and the figures, prints the table
DATASET     := mnist
NUM_CLASSES := 10
LABEL_SETS  ?= 10
THREADS     ?= 1
# The MLP of the baselines (set before common.mk, which would give 128-64): see below.
MLP_ARGS    ?= --hidden 500,500 --dropout 0.3
# VAT's MLP: 300-300 with batch norm, the labelled images shifted by up to 2 pixels, 250 unlabelled
# rows a step, Adam 0.002 for 2000 steps; eps picked on a validation split of the labels among VAT_EPS
# (docs/notes/2026-12-07-vat-mnist.md).
VAT_ARGS    ?= --hidden 300,300 --batch-norm --shift 2 --lr 0.002 --unlabelled-batch 250
VAT_EPS     ?= 1 2 4
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk

MNIST   ?= $(ROOT)/data/mnist10k
CLASSES := 0,1,2,3,4,5,6,7,8,9

.PHONY: all
all: $(RESULTS)/table.md figures
	@cat $<

# IDX pixels / 255 are in [0,1]: no further scaling, the same for both splits.
$(WORK)/train_s.ssl: $(MNIST)/train-images-idx3-ubyte.gz $(MNIST)/train-labels-idx1-ubyte.gz | $(PIPELINE_TOOLS)
	@mkdir -p $(@D)
	$(PREP) idx --class-names '$(CLASSES)' $^ -o $@

$(WORK)/test_s.ssl: $(MNIST)/t10k-images-idx3-ubyte.gz $(MNIST)/t10k-labels-idx1-ubyte.gz | $(PIPELINE_TOOLS)
	@mkdir -p $(@D)
	$(PREP) idx --class-names '$(CLASSES)' $^ -o $@

# The supervised baselines, tuned on the validation split: the MLP of M2's classifier (500-500) with
# dropout, and the same MLP with the labelled images moved by up to 2 pixels (--shift 2), the
# augmentation the semi-supervised recipes below use too; logistic regression; self-training.
$(eval $(call baseline_methods))
MLPSHIFT_ARGS ?= $(MLP_ARGS) --shift 2
$(eval $(call fit_method,mlp-shift,$(MLPSHIFT_ARGS)))

# The semi-supervised GAN (Salimans et al. 2016): the authors' MNIST networks and losses (ssl-gan's
# defaults), D's weights averaged for prediction, the labelled images shifted by up to 2 pixels; the
# learning rate falls linearly to 0 over the last 100 of its 250 epochs.
# --val on the test split only logs the accuracy-by-epoch curve: nothing is chosen by it.
GAN_EPOCHS ?= 250
GAN_DECAY  ?= 150
GAN_ARGS ?= --epochs $(GAN_EPOCHS) --lr-decay-start $(GAN_DECAY) --shift 2 --ema 0.999 --val $(WORK)/test_s.ssl
$(eval $(call trained_method,ssl-gan,$(GAN),$(GAN_ARGS)))

# M2 on the pixels (Kingma et al. 2014), its networks 500-500 softplus, z of 50; a batch of 100
# unlabelled and 100 labelled rows each step, the labelled images shifted by up to 2 pixels.
M2_EPOCHS ?= 100
M2_ARGS ?= --model m2 --hidden 500,500 --latent 50 --batch 100 --shift 2 --epochs $(M2_EPOCHS) --val $(WORK)/test_s.ssl
$(eval $(call trained_method,m2,$(VAE),$(M2_ARGS)))
# The same M2 with virtual adversarial training on q(y|x): eps 2, the middle of VAT_EPS (not swept).
M2VAT_ARGS ?= $(M2_ARGS) --vat 2
$(eval $(call trained_method,m2-vat,$(VAE),$(M2VAT_ARGS)))

# The auxiliary deep generative models (Maaloe et al. 2016) with the authors' MNIST recipe: a and z
# of 100, networks 500-500 ReLU, Adam 3e-4, 100 unlabelled and 100 labelled rows a step, every row
# binarised afresh when drawn; without their batch norm, one draw of a a step; the labelled images
# shifted by up to 2 pixels, as M2's.
ADGM_EPOCHS ?= 100
ADGM_ARGS ?= --model adgm --activation relu --hidden 500,500 --batch 100 --shift 2 --binarise --lr 3e-4 \
             --epochs $(ADGM_EPOCHS) --val $(WORK)/test_s.ssl
SDGM_ARGS ?= $(patsubst adgm,sdgm,$(ADGM_ARGS))
$(eval $(call trained_method,adgm,$(VAE),$(ADGM_ARGS)))
$(eval $(call trained_method,sdgm,$(VAE),$(SDGM_ARGS)))

# M1+M2 as Kingma's code: M1 (500-500 softplus, z of 50) on every training image; M2 (500 softplus,
# z of 50, Gaussian) on the latent units that vary (sd >= 0.1), drawn from M1's posterior each time
# a row is used; each step 1 labelled and 79 unlabelled rows, every row weighted alike.
M1_ARGS    ?= --hidden 500,500 --latent 50 --lr 3e-4 --epochs 300 --batch 100
M1Z_ARGS   := --replace --sd --min-sd 0.1
M1MLP_ARGS ?= $(MLP_ARGS)
M1M2_ARGS  ?= --model m2 --hidden 500 --latent 50 --likelihood gaussian --labelled-batch 1 --batch 79 \
              --weighting rows --lr 1e-3 --epochs 500 --val $$(@D)/m1z_test.ssl
$(eval $(call trained_method,m1-mlp,$(FIT),$(M1MLP_ARGS),,m1z.ssl,m1z_test.ssl))
$(eval $(call trained_method,m1-m2,$(VAE),$(M1M2_ARGS),,m1z.ssl,m1z_test.ssl))
TIMES_m1-mlp := m1-mlp.time m1.time
TIMES_m1-m2  := m1-m2.time m1.time
# the test latents are logged by --val (the learning curve) while M2 trains
$(foreach s,$(SEEDS),$(eval $(WORK)/L10/s$(s)/m1-m2.model $(WORK)/L10/s$(s)/m1-m2.log: $(WORK)/L10/s$(s)/m1z_test.ssl))

# Virtual adversarial training (common.mk's vat_methods: alone, and with entropy minimisation) on the
# VAT_ARGS network: see above.
$(eval $(call vat_methods))

# The convolutional classifier (common.mk's conv_methods: supervised, and with VAT and entropy
# minimisation), 500 steps.
$(eval $(call conv_methods))

# Graph-based label propagation (common.mk's graph_methods) on the pixels, and on M1's latents.
$(eval $(call graph_methods))
$(eval $(call m1_graph_method))
$(eval $(call graph_conv_method))

$(eval $(call grid))

# The figures (figures.mk): learning curves, the best method's confusion matrix, the models' samples.
FIG_CLASSES := $(CLASSES)
include $(ROOT)/pipelines/figures.mk

# The PyTorch references (reference/, Debian's python3-torch) trained with the same recipes on seed 0's
# streams, and their learning curves beside ours: results/mnist/reference.md (about 2.5 hours of one
# core, the GAN most of it).
REF_METHODS := m2 m1-m2 ssl-gan adgm sdgm
$(eval $(call ref_method,m2,m2.py,$(M2_ARGS)))
$(eval $(call ref_method,ssl-gan,gan.py,$(GAN_ARGS)))
$(eval $(call ref_method,adgm,adgm.py,$(ADGM_ARGS)))
$(eval $(call ref_method,sdgm,adgm.py,$(SDGM_ARGS)))
$(REF_RUN)/ref-m1-m2.log: $(REF_RUN)/m1z.ssl $(REF_RUN)/m1z_test.ssl $(call params,ref-m1-m2,$(M1M2_ARGS))
	$(PY) $(ROOT)/reference/m2.py $(M1M2_ARGS:$$(@D)%=$(@D)%) --seed 0 --quiet --log $@.tmp $< && mv $@.tmp $@
$(eval $(call reference_table,$(REF_METHODS)))

# What the number of unlabelled rows costs: M2 and the SSL-GAN on seed 0's 100 labelled rows with only the
# first N of its unlabelled rows (pipelines/unlabelled.py), each given as many steps as the full run (the
# epochs scaled by full / N); their test accuracy at the end beside the full runs':
# results/mnist/data-size.md (about 35 minutes of one core per run).
SIZES    ?= 2000 4000
SIZE_RUN := $(WORK)/L10/s0
SIZE_DIR := $(WORK)/size
space    := $(subst ,, )
# $(call scaled,EPOCHS,N): EPOCHS x (unlabelled rows of seed 0's set) / N, rounded up (shell arithmetic)
scaled = $$(( ($(1) * $$($(BIN)/ssl-show $(SIZE_RUN)/labelled.ssl | sed -n 's/.*, \([0-9]*\) unlabelled rows/\1/p') + $(2) - 1) / $(2) ))
.PHONY: data-size
data-size: $(RESULTS)/data-size.md
	@cat $<
$(SIZE_DIR)/u%.ssl: $(SIZE_RUN)/labelled.ssl
	@mkdir -p $(@D)
	$(PY) $(ROOT)/pipelines/unlabelled.py $* $< > $@.tmp && mv $@.tmp $@
$(SIZE_DIR)/m2-u%.log: $(SIZE_DIR)/u%.ssl $(call params,size-m2,$(M2_ARGS))
	$(VAE) train $(M2_ARGS) --epochs $(call scaled,$(M2_EPOCHS),$*) $(THREADS_ARG) --seed 0 --quiet \
	  --log $@.tmp $< -o $(@D)/m2-u$*.model && mv $@.tmp $@
$(SIZE_DIR)/ssl-gan-u%.log: $(SIZE_DIR)/u%.ssl $(call params,size-ssl-gan,$(GAN_ARGS))
	$(GAN) train $(GAN_ARGS) --epochs $(call scaled,$(GAN_EPOCHS),$*) --lr-decay-start $(call scaled,$(GAN_DECAY),$*) \
	  $(THREADS_ARG) --seed 0 --quiet --log $@.tmp $< -o $(@D)/ssl-gan-u$*.model && mv $@.tmp $@
$(RESULTS)/data-size.md: $(foreach m,m2 ssl-gan,$(SIZE_RUN)/$(m).log $(foreach n,$(SIZES),$(SIZE_DIR)/$(m)-u$(n).log))
	@mkdir -p $(@D)
	$(PY) $(ROOT)/reference/compare.py --sizes $(foreach m,m2 ssl-gan,$(m)=$(subst $(space),$(comma),$(foreach n,$(SIZES),$(n):$(SIZE_DIR)/$(m)-u$(n).log) all:$(SIZE_RUN)/$(m).log)) > $@.tmp
	mv $@.tmp $@
