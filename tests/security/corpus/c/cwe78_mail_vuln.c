#include <stdio.h>
#include <stdlib.h>

int main(void) {
    char addr[128], cmd[256];
    if (!fgets(addr, sizeof(addr), stdin)) return 1;
    snprintf(cmd, sizeof(cmd), "mail -s hi %s < msg.txt", addr);
    return system(cmd);
}
