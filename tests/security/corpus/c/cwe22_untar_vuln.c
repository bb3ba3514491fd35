/* untar: extracts a tar archive given on the command line into the current folder. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>

static int copy_data(struct archive *ar, struct archive *aw)
{
    const void *buff;
    size_t size;
    la_int64_t offset;

    for (;;) {
        int r = archive_read_data_block(ar, &buff, &size, &offset);
        if (r == ARCHIVE_EOF)
            return ARCHIVE_OK;
        if (r != ARCHIVE_OK)
            return r;
        if (archive_write_data_block(aw, buff, size, offset) != ARCHIVE_OK)
            return ARCHIVE_FATAL;
    }
}

int main(int argc, char **argv)
{
    struct archive *a = archive_read_new();
    struct archive *ext = archive_write_disk_new();
    struct archive_entry *entry;
    int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM;

    archive_read_support_format_tar(a);
    archive_write_disk_set_options(ext, flags);
    if (argc < 2 || archive_read_open_filename(a, argv[1], 10240) != ARCHIVE_OK)
        return 1;
    while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
        printf("x %s\n", archive_entry_pathname(entry));
        if (archive_write_header(ext, entry) != ARCHIVE_OK)
            continue;
        if (archive_entry_size(entry) > 0)
            copy_data(a, ext);
        archive_write_finish_entry(ext);
    }
    archive_read_free(a);
    archive_write_free(ext);
    return 0;
}
