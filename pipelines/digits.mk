# The digits comparison (the main job, `make demo`): UCI optical digits (embedded, data/digits.csv.gz),
# a stratified 70/30 split, min-max scaling fitted on the training split, 5 labels per class kept,
# then every method on the labelled rows, evaluated on the test split over seeds 0-2.
#   make -f pipelines/digits.mk              builds results/digits/table.md and the figures, prints the table
#   make -f pipelines/digits.mk MLP_ARGS="--hidden 256,128"   reruns the MLP runs only
DATASET     := digits
NUM_CLASSES := 10
LABEL_SETS  ?= 5
# The conv classifier's images are 8 x 8: shifts of at most 1 pixel (MNIST's 2 of 28, scaled).
CONV_ARGS     ?= --conv 32:5:2,64:3:2 --batch-norm --shift 1 --epochs 500 --patience 1000
CONV_VAT_ARGS ?= --conv 32:5:2,64:3:2 --batch-norm --shift 1 --lr 0.002 --unlabelled-batch 250 --epochs 500 --entmin 1
CONV_FM_ARGS  ?= --conv 32:5:2,64:3:2 --batch-norm --shift 1 --lr 0.002 --lr-decay-start 1 --unlabelled-batch 250 \
                 --epochs 3000 --fixmatch 1
GRAPH_CONV_ARGS ?= --conv 32:5:2,64:3:2 --batch-norm --shift 1 --epochs 30 --patience 1000
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk

SPLIT_ARGS  ?= --test 0.3 --seed 42
SCALE_ARGS  ?= --method minmax

.PHONY: all
all: $(RESULTS)/table.md figures
	@cat $<

$(WORK)/all.ssl: $(ROOT)/data/digits.csv.gz | $(PIPELINE_TOOLS)
	@mkdir -p $(@D)
	$(PREP) csv --no-header $< -o $@

$(WORK)/train.ssl $(WORK)/test.ssl &: $(WORK)/all.ssl $(call params,split,$(SPLIT_ARGS))
	$(PREP) split $(SPLIT_ARGS) --train-out $(WORK)/train.ssl --test-out $(WORK)/test.ssl $<

$(WORK)/scaler.model $(WORK)/train_s.ssl &: $(WORK)/train.ssl $(call params,scale,$(SCALE_ARGS))
	$(PREP) scale $(SCALE_ARGS) --fit-stats $(WORK)/scaler.model $< -o $(WORK)/train_s.ssl

$(WORK)/test_s.ssl: $(WORK)/test.ssl $(WORK)/scaler.model
	$(PREP) scale --stats $(WORK)/scaler.model $< -o $@

# The baselines and self-training (common.mk).
$(eval $(call baseline_methods))
$(eval $(call vat_methods))
$(eval $(call conv_methods))
$(eval $(call graph_methods))

# The semi-supervised GAN (Salimans et al. 2016): D on labelled + unlabelled + generated rows.
GAN_ARGS ?= --epochs 30
$(eval $(call trained_method,ssl-gan,$(GAN),$(GAN_ARGS)))
# The same with virtual adversarial training on D's class logits (eps 1, the middle of VAT_EPS; not swept).
GANVAT_ARGS ?= $(GAN_ARGS) --vat 1
$(eval $(call trained_method,ssl-gan-vat,$(GAN),$(GANVAT_ARGS)))

# The VAEs (Kingma et al. 2014): M1 latents + MLP, M2 on the scaled pixels, M2 on M1's latents.
M1_ARGS  ?= --hidden 128 --latent 8 --epochs 200 --kl-warmup 20 --batch 64
M2_ARGS  ?= --model m2 --hidden 128 --latent 8 --epochs 100 --kl-warmup 10 --batch 64
M1M2_ARGS ?= $(M2_ARGS)
$(eval $(call trained_method,m1-mlp,$(FIT),$(MLP_ARGS),,m1z.ssl,m1z_test.ssl))
$(eval $(call trained_method,m2,$(VAE),$(M2_ARGS)))
# M2 with virtual adversarial training on q(y|x) (eps 1, as the GAN's; not swept).
M2VAT_ARGS ?= $(M2_ARGS) --vat 1
$(eval $(call trained_method,m2-vat,$(VAE),$(M2VAT_ARGS)))
$(eval $(call trained_method,m1-m2,$(VAE),$(M1M2_ARGS),,m1z.ssl,m1z_test.ssl))
# The auxiliary deep generative models (Maaloe et al. 2016) with M2's recipe (a of 100).
ADGM_ARGS ?= $(patsubst m2,adgm,$(M2_ARGS))
SDGM_ARGS ?= $(patsubst m2,sdgm,$(M2_ARGS))
$(eval $(call trained_method,adgm,$(VAE),$(ADGM_ARGS)))
$(eval $(call trained_method,sdgm,$(VAE),$(SDGM_ARGS)))
TIMES_m1-mlp := m1-mlp.time m1.time
TIMES_m1-m2  := m1-m2.time m1.time
$(eval $(call m1_graph_method))
$(eval $(call graph_conv_method))

# An MLP on the labelled rows plus generated ones (class-conditional samples of an M2 or a conditional GAN,
# kept when the supervised MLP agrees with their label, weighted 0.5).
AUG_M2_ARGS   ?= --model m2 --hidden 128 --latent 8 --epochs 30 --kl-warmup 10 --batch 64
# --mode-seeking 0.3: without it the conditional G draws nearly one image per class (within-class spread
# 0.29 of the data's; 1.15 with it, class agreement with the MLP 99.9%); mlp-gan-aug 84.9 -> 86.2% (seeds 0-2).
AUG_CGAN_ARGS ?= --conditional --d-hidden 500,250,250 --g-hidden 500,500 --epochs 30 --mode-seeking 0.3
VAEAUG_ARGS   ?= --from-vae @RUN@/aug-m2.vae --ratio 10 --filter @RUN@/mlp.model --weight 0.5
GANAUG_ARGS   ?= --from-gan @RUN@/aug-cgan.gan --ratio 10 --filter @RUN@/mlp.model --weight 0.5
$(eval $(call aug_method,mlp-vae-aug,$(VAEAUG_ARGS),aug-m2.vae mlp.model))
$(eval $(call aug_method,mlp-gan-aug,$(GANAUG_ARGS),aug-cgan.gan mlp.model))

$(eval $(call grid))

# The figures (figures.mk): learning curves, the best method's confusion matrix, the models' samples.
include $(ROOT)/pipelines/figures.mk
