#include <stdio.h>
#include <stdlib.h>

void open_profile(void) {
    char path[64];
    sprintf(path, "%s/.profile_settings", getenv("HOME"));
    fopen(path, "r");
}
