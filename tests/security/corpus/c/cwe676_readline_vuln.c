#include <stdio.h>

int main(void) {
    char answer[8];
    puts("continue? ");
    gets(answer);
    return answer[0] == 'y';
}
