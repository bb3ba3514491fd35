#include <stdio.h>

int main(void) {
    char answer[8];
    puts("continue? ");
    fgets(answer, sizeof(answer), stdin);
    return answer[0] == 'y';
}
