/* Prints a greeting that says which compiler built it. Nothing to change here. */
#include <stdio.h>

int main(void) {
    printf("hello from a two-stage build\n");
#ifdef __VERSION__
    printf("compiled by gcc %s\n", __VERSION__);
#endif
    return 0;
}
