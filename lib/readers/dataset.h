/* dataset: the stream side of ssl-prep. Turns tabular and IDX data into stream tables with their
 * metadata, saves and loads scaling statistics as model files of kind "scaler", and applies the
 * split and masking of lib/prep.h to stream tables. Every table here has x (f32, one row of
 * features), y (i32, -1 = unlabelled) and id (i64, the 0-based row of the source). */
#ifndef SSL_DATASET_H
#define SSL_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "idx.h"
#include "model.h"
#include "prep.h"
#include "stream.h"
#include "tabular.h"

#define DATASET_META_SOURCE "source"
#define DATASET_META_IMAGE_SHAPE "image_shape"
#define DATASET_META_LABELS_KEPT "labels_kept"
#define DATASET_META_SPLIT "split"
#define DATASET_SCALER_KIND "scaler"

/* The rows of a CSV data set with meta feature_names, class_names (when labelled), scaling "none",
 * x_range and source (path's last component). */
stream_table *dataset_from_tabular(const tabular *t, const char *path, error *e);

/* IDX images (n, h, w...) and optional labels (n): the schema, meta image_shape, class_names
 * (class_names: comma-separated, else "0".."max label"), x_range of the first `rows` images. */
stream_schema *dataset_idx_schema(const idx_array *img, const idx_array *lab, size_t rows, const char *class_names,
                                  const char *path, error *e);
/* Fills b (of that schema) with rows [row0, row0+n): x = pixel / 255, y, id. */
int dataset_idx_fill(stream_table *b, const idx_array *img, const idx_array *lab, size_t row0, size_t n, error *e);

/* meta x_range = [lo, hi]. */
void dataset_set_range(stream_schema *s, float lo, float hi);

/* Scaling statistics as a model file (params shift and scale, info method/features/feature_names),
 * and back; the width of x (d) must match the model's: an error naming both otherwise. */
model_file *dataset_scaler_model(const prep_scaler *sc, const stream_schema *s, error *e);
int dataset_scaler_load(const model_file *m, const char *name, size_t d, prep_scaler *sc, error *e);

/* Width of the f32 tensor x of a stream, or -1 with an error. */
long dataset_x_width(const stream_schema *s, const char *name, error *e);

/* Stratified split of t (prep_split) into two new tables, rows in their original order; each
 * gets meta split = "train" / "test", and its own x_range. */
int dataset_split(const stream_table *t, double test, uint64_t seed, stream_table **train, stream_table **test_out,
                  error *e);

typedef enum dataset_mask_mode { DATASET_MASK_NONE, DATASET_MASK_PER_CLASS, DATASET_MASK_COUNT, DATASET_MASK_FRACTION } dataset_mask_mode;
/* Hides labels (prep_mask_*) with amount = L, N or F; then, if drop, keeps only labelled rows.
 * Sets meta labels_kept (and x_range after dropping rows). Returns the labels kept or -1. */
long dataset_mask(stream_table *t, dataset_mask_mode mode, double amount, uint64_t seed, int drop, error *e);

#endif
