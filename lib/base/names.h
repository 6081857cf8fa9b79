/* names: the index of a name in a NULL-terminated table of names (the enums' text forms:
 * activations, likelihoods, scaling methods, command-line choices). */
#ifndef SSL_NAMES_H
#define SSL_NAMES_H

/* Index of s in names (NULL-terminated), or -1. */
int names_find(const char *const *names, const char *s);

#endif
