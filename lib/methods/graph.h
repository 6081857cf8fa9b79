/* graph: graph-based label propagation, the transductive semi-supervised methods: every row, labelled
 * or not, is a node of a k-nearest-neighbour graph, and the labels of a few nodes spread along its
 * edges to the rest.
 *
 * The graph (as Calder et al.'s GraphLearning builds it): each row linked to its k nearest rows with
 * the Gaussian weight w_ij = exp(-4 |x_i - x_j|^2 / d_k(x_i)^2), d_k(x_i) the distance to its k-th
 * neighbour, then symmetrised, W = (W + W^T) / 2. D = diag(d_i), d_i = sum_j w_ij, the degrees.
 *
 * Propagation, from the labelled rows' one-hot labels Y (n, K; zero rows for the unlabelled):
 *  - Poisson learning (Calder, Cook, Thorpe and Slepcev, ICML 2020): solves L u = b with L = D - W and
 *    b_i = y_i - mean of the labelled rows' y_i at a labelled row (0 elsewhere), u of degree-weighted
 *    mean 0; a row's class is the argmax of u_i. It holds up at a few labels per class, where Laplace
 *    learning's solution flattens to a constant. Solved as GraphLearning does, by conjugate gradients on
 *    the normalised Laplacian: (I - S) v = D^-1/2 b, u = D^-1/2 v, S = D^-1/2 W D^-1/2.
 *  - Label spreading (Zhou et al. 2004, scikit-learn's LabelSpreading): F = (1 - alpha)(I - alpha S)^-1 Y,
 *    by conjugate gradients too.
 * On a graph of several connected components, Poisson learning is solved on each (its own labelled
 * rows' mean in b, its own mean 0 in u); the rows of a component without labels get 1/K for every
 * class, those of a component whose labels are all one class that class.
 * Both output p (n, K): the rows of F over their sums (label spreading), or u scaled into [0, 1] over
 * all rows and classes, then each row over its sum (Poisson learning; a score that orders the
 * classes, not a calibrated probability). A row no label reaches gets 1/K for every class. */
#ifndef SSL_GRAPH_H
#define SSL_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "parallel.h"

/* A weighted undirected graph, compressed rows: row i's edges are [start[i], start[i + 1]) of col
 * (the neighbours, increasing) and w (their weights); degree[i] their sum. Its connected components:
 * order lists the rows component by component, component c being order[cstart[c] .. cstart[c + 1]). */
typedef struct graph {
    size_t n;
    size_t *start;
    int32_t *col;
    double *w;
    double *degree;
    size_t ncomp;
    int32_t *order;
    size_t *cstart;
} graph;

/* The symmetrised k-nearest-neighbour graph with Gaussian weights (above) of the rows of x (n, d),
 * their neighbours found by knn_search on the pool's threads (NULL: one). -1 with e set (n <= k, out
 * of memory). */
int graph_knn(graph *g, par_pool *pool, const float *x, size_t n, int d, int k, error *e);
/* The same graph from the neighbour lists knn_search gives: idx (n, k), dist2 (n, k). */
int graph_from_neighbours(graph *g, const int32_t *idx, const float *dist2, size_t n, int k, error *e);
void graph_free(graph *g);

typedef enum graph_method { GRAPH_POISSON, GRAPH_SPREAD } graph_method;

typedef struct graph_config {
    graph_method method;   /* GRAPH_POISSON */
    double alpha;          /* label spreading's alpha in (0, 1): 0.99 (Zhou et al.) */
    double tol;            /* conjugate gradients stop at |residual| <= tol |right-hand side|: 1e-6 */
    int max_iter;          /* or after this many iterations: 5000 */
} graph_config;

void graph_config_default(graph_config *c);

/* What the solver did. */
typedef struct graph_result {
    int iterations;
    double residual;   /* |residual| / |right-hand side| at the end */
    size_t labelled;   /* rows with a label */
    size_t unreached;  /* rows in components without a label */
} graph_result;

/* The solution itself, u (n, K): Poisson learning's u (degree-weighted mean 0 per class and
 * component; 0 in a component without two classes among its labels), or label spreading's F. Errors as graph_propagate. */
int graph_solve(const graph *g, const graph_config *c, const int32_t *y, int K, double *u, graph_result *r, error *e);
/* p (n, K) from the labels y (n: 0..K-1, or -1 for unlabelled) on g. -1 with e set when no row is
 * labelled or a label is out of range. */
int graph_propagate(const graph *g, const graph_config *c, const int32_t *y, int K, float *p, graph_result *r,
                    error *e);

#endif
