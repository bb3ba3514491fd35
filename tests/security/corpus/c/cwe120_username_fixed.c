#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    char user[16];
    if (argc < 2) return 1;
    snprintf(user, sizeof(user), "%s", argv[1]);
    printf("hello %s\n", user);
    return 0;
}
