#include <stdio.h>

FILE *scratch(void) {
    return tmpfile();
}
