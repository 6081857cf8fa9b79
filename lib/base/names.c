#include "names.h"

#include <string.h>

int names_find(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}
