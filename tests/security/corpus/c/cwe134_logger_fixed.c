#include <stdio.h>

void log_line(FILE *out, const char *line) {
    fprintf(out, "%s", line);
}

int main(int argc, char **argv) {
    log_line(stderr, argv[1]);
    return 0;
}
