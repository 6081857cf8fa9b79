/* tabular: a CSV table of text fields (csvread) turned into a data set: float features,
 * integer class labels with their names, feature names. The rules (docs/ssl-prep.md):
 * - header: a first row is a header when a column is named by name (--label species), or, when
 *   detecting, when one of its feature fields (not the label, not categorical) is not a number;
 * - label column: a name or a 1-based index, default the last column, "none" for no labels;
 *   a field equal to the unlabelled marker (default "") or "-1" gives y = -1;
 * - labels that are all integers in 0..65535 are class indices (class_names "0".."K-1");
 *   otherwise they are names, the classes being the distinct names in sorted (byte) order
 *   (integers outside that range make a note: the guess is said);
 * - scikit-learn's CSVs: a first line "ROWS,FEATURES,class names..." that fits the rows after it
 *   is read as such when detecting (the class names name the indices; a note says so);
 * - class_names (--class-names) name integer labels' indices; with labels that are names, an error;
 * - categorical columns are one-hot encoded into features "col=value", values in sorted order;
 * - an empty feature field is an error unless imputing (mean/median of the column; for a
 *   categorical column its most frequent value).
 * Errors name file:row:column, row being the line of the file where the record starts. */
#ifndef SSL_TABULAR_H
#define SSL_TABULAR_H

#include <stddef.h>
#include <stdint.h>

#include "csvread.h"
#include "error.h"
#include "prep.h"

typedef struct tabular_opts {
    int header;                /* -1 detect, 0 none, 1 the first row is a header */
    const char *label;         /* NULL: last column; "none": no labels */
    const char *unlabelled;    /* marker of an unlabelled row; NULL means "" */
    const char *categorical;   /* comma-separated names or 1-based indices, or NULL */
    prep_impute_method impute;
    int meta_line;             /* detect scikit-learn's first line (header -1 and no lines skipped) */
    const char *class_names;   /* comma-separated names of the class indices 0, 1, ..., or NULL */
} tabular_opts;

typedef struct tabular {
    size_t n, d;
    float *x;               /* (n, d) */
    int32_t *y;             /* (n); all -1 without a label column */
    int has_labels;
    char **feature_names;   /* d (c1, c2, ... without a header) */
    int named;              /* the names say something: a header, or a categorical column's values */
    int k;                  /* classes */
    char **class_names;     /* k */
    long *line;             /* (n) line of each row in the file */
    char note[320];         /* a guess made in reading, for the user ("" when none) */
} tabular;

/* NULL on error; name is the file name used in messages. */
tabular *tabular_from_csv(const csvread_doc *doc, const char *name, const tabular_opts *o, error *e);
void tabular_free(tabular *t);

#endif
