/* notes: prints a saved note from the notes folder; the note's name is the first argument. */
#include <stdio.h>
#include <string.h>

#define NOTES_DIR "/var/lib/notes"

static int print_note(const char *name)
{
    char path[512];
    char line[256];

    snprintf(path, sizeof path, "%s/%s.txt", NOTES_DIR, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    while (fgets(line, sizeof line, f) != NULL)
        fputs(line, stdout);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: notes NAME\n");
        return 2;
    }
    char name[128];
    snprintf(name, sizeof name, "%s", argv[1]);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", NOTES_DIR, name);
    FILE *probe = fopen(path, "r");
    if (probe != NULL)
        fclose(probe);
    return print_note(name);
}
