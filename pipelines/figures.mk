# The figures of a comparison, as PNG in results/$(DATASET)/figures/, drawn by gnuplot (installed if
# missing). A pipeline includes this file after $(eval $(call grid)); then
#   make -f pipelines/DATASET.mk figures
# draws, for the seed-0 run at FIG_LABELS labels per class (default the first label set):
#   curves.png     learning curves from the trainers' --log files: the ssl-fit classifiers' loss, the
#                  VAEs' loss, the accuracy on the labelled training rows of the classifiers inside the
#                  generative models (M2's q(y|x), the SSL-GAN's D), the GANs' D and G losses;
#   confusion.png  the confusion matrix of the best method at FIG_LABELS (the highest mean accuracy in
#                  table.md), summed over the seeds;
#   samples.png    K x K samples of each generative model (a class per column for the class-conditional
#                  ones); each also as samples-NAME.png.
# The methods' kinds come from common.mk's macros (FIG_FIT, FIG_M2, FIG_GAN, FIG_SAMPLES, FIG_M1,
# FIG_GENERATORS).

FIG_LABELS  ?= $(firstword $(LABEL_SETS))
FIG_CLASSES ?= $(shell seq -s, 0 $$(( $(NUM_CLASSES) - 1 )))
FIGDIR      := $(RESULTS)/figures
FIG_RUN     := $(WORK)/L$(FIG_LABELS)/s0
FIG_N       := $(shell echo $$(( $(NUM_CLASSES) * $(NUM_CLASSES) )))
GNUPLOT     ?= /usr/bin/gnuplot
PLOT        := $(ROOT)/pipelines

# The methods of each kind that run at FIG_LABELS, and the augmentation generators (M2s, GANs).
fig_at   = $(foreach m,$(1),$(if $(filter $(FIG_LABELS),$(LSETS_$(m))),$(m)))
FIG_FIT_AT  := $(call fig_at,$(FIG_FIT))
FIG_M2_AT   := $(call fig_at,$(FIG_M2))
FIG_GAN_AT  := $(call fig_at,$(FIG_GAN))
FIG_GEN_M2  := $(basename $(filter %.vae,$(FIG_GENERATORS)))
FIG_GEN_GAN := $(basename $(filter %.gan,$(FIG_GENERATORS)))
FIG_M1_LOG  := $(if $(FIG_M1),$(WORK)/m1/s0.log)
FIG_LOGS    := $(foreach m,$(FIG_FIT_AT) $(FIG_M2_AT) $(FIG_GAN_AT) $(FIG_GEN_M2) $(FIG_GEN_GAN),$(FIG_RUN)/$(m).log) \
               $(FIG_M1_LOG)

$(GNUPLOT):
	@command -v gnuplot >/dev/null || $(ROOT)/pipelines/apt-install gnuplot-nox

# One line (-s LOG FIELD NAME) per method; a panel only when it has lines.
fig_lines = $(foreach m,$(1),-s $(FIG_RUN)/$(m).log $(2) '$(m)$(3)')
FIG_PANEL_FIT = $(if $(FIG_FIT_AT),-p 'classifiers trained by ssl-fit' -y 'training loss (weighted cross-entropy)' -l \
  $(call fig_lines,$(FIG_FIT_AT),loss))
FIG_PANEL_VAE = $(if $(FIG_M1)$(FIG_M2_AT)$(FIG_GEN_M2),-p 'VAEs' -y 'training loss (-ELBO per row; M2: + alpha x-entropy)' \
  $(if $(FIG_M1),-s $(FIG_M1_LOG) -elbo m1) $(call fig_lines,$(FIG_M2_AT) $(FIG_GEN_M2),loss))
FIG_PANEL_ACC = $(if $(FIG_M2_AT)$(FIG_GEN_M2)$(FIG_GAN_AT),-p 'classifiers inside the generative models' \
  -y 'accuracy on the labelled training rows' \
  $(call fig_lines,$(FIG_M2_AT) $(FIG_GEN_M2),accuracy,: M2 q(y|x)) $(call fig_lines,$(FIG_GAN_AT),train_accuracy,: D))
FIG_PANEL_GAN = $(if $(FIG_GAN_AT)$(FIG_GEN_GAN),-p 'GANs' -y 'training loss' \
  $(foreach m,$(FIG_GAN_AT) $(FIG_GEN_GAN),-s $(FIG_RUN)/$(m).log d_loss '$(m): D' -s $(FIG_RUN)/$(m).log g_loss '$(m): G'))

$(FIGDIR)/curves.png: $(FIG_LOGS) $(PLOT)/plot-curves.sh | $(GNUPLOT)
	@mkdir -p $(@D)
	sh $(PLOT)/plot-curves.sh $@ '$(DATASET): learning curves (seed-0 run, $(FIG_LABELS) labels per class)' \
	  $(FIG_PANEL_FIT) $(FIG_PANEL_VAE) $(FIG_PANEL_ACC) $(FIG_PANEL_GAN)

# The best method: the highest mean accuracy among table.md's rows at FIG_LABELS.
$(FIGDIR)/confusion.png: $(RESULTS)/table.md $(PLOT)/plot-confusion.sh | $(GNUPLOT)
	@mkdir -p $(@D)
	best=$$(awk -F'|' -v L=$(FIG_LABELS) '{ m = $$2; l = $$3; gsub(/ /, "", m); gsub(/ /, "", l) } \
	    l == L && $$5 + 0 > a { a = $$5 + 0; b = m } END { print b }' $<); \
	  [ -n "$$best" ] || { echo "$<: no method at $(FIG_LABELS) labels per class" >&2; exit 1; }; \
	  echo "confusion.png: $$best, the best method at $(FIG_LABELS) labels per class"; \
	  sh $(PLOT)/plot-confusion.sh $@ \
	    "$(DATASET): $$best, the best method at $(FIG_LABELS) labels per class (seeds $(SEEDS) summed)" \
	    $(foreach s,$(SEEDS),$(RESULTS)/$$best-L$(FIG_LABELS)-s$(s).json)

# $(call fig_sample,NAME,MODEL,PROGRAM,TITLE,CONDITIONAL): samples-NAME.png, K x K samples, and its panel.
FIG_SAMPLE_PANELS :=
define fig_sample
$(FIGDIR)/samples-$(1).png: $(2)
	@mkdir -p $$(@D)
	$(3) sample -m $$< -n $(FIG_N) --seed 0 --png $$@
FIG_SAMPLE_PANELS += -p $(FIGDIR)/samples-$(1).png '$(1): $(4)$(if $(strip $(5)),$(comma) a class per column)' \
  $(if $(strip $(5)),-c '$(FIG_CLASSES)')
FIG_SAMPLE_PNGS += $(FIGDIR)/samples-$(1).png
endef
comma := ,
$(if $(FIG_M1),$(eval $(call fig_sample,m1,$(WORK)/m1/s0.vae,$(VAE),M1 VAE)))
$(foreach m,$(FIG_M2_AT),$(if $(filter $(m).model,$(FIG_SAMPLES)),\
  $(eval $(call fig_sample,$(m),$(FIG_RUN)/$(m).model,$(VAE),M2,yes))))
$(foreach m,$(FIG_GAN_AT),$(eval $(call fig_sample,$(m),$(FIG_RUN)/$(m).model,$(GAN),GAN generator,\
  $(filter --conditional,$(GAN_ARGS)))))
$(foreach m,$(FIG_GEN_M2),$(eval $(call fig_sample,$(m),$(FIG_RUN)/$(m).vae,$(VAE),M2 for augmentation,yes)))
$(foreach m,$(FIG_GEN_GAN),$(eval $(call fig_sample,$(m),$(FIG_RUN)/$(m).gan,$(GAN),GAN for augmentation,\
  $(filter --conditional,$(AUG_CGAN_ARGS)))))

$(FIGDIR)/samples.png: $(FIG_SAMPLE_PNGS) $(PLOT)/plot-samples.sh | $(GNUPLOT)
	sh $(PLOT)/plot-samples.sh $@ '$(DATASET): samples of the generative models (seed-0 run, $(FIG_LABELS) labels per class)' \
	  $(FIG_SAMPLE_PANELS)

.PHONY: figures
figures: $(FIGDIR)/curves.png $(FIGDIR)/confusion.png $(if $(FIG_SAMPLE_PNGS),$(FIGDIR)/samples.png)
