/* tests/lib/procwatch.c: /proc readings and log scans behind procwatch.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "procwatch.h"

long procwatch_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	while (fp && fgets(line, sizeof(line), fp)) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	if (fp) {
		fclose(fp);
	}
	return v;
}

long procwatch_rss_kib(pid_t pid)
{
	return procwatch_status_kib(pid, "VmRSS");
}

int procwatch_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL) {
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n;
}

long procwatch_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

int procwatch_lines(const char *path, long from, const char *needle, char *first, size_t len)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int count = 0;

	if (fp == NULL) {
		return -1;
	}
	if (first && len) {
		first[0] = '\0';
	}
	if (from > 0 && fseek(fp, from, SEEK_SET) != 0) {
		fclose(fp);
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] == '\n') {
			line[n - 1] = '\0';
		}
		if (strstr(line, needle) == NULL) {
			continue;
		}
		if (count++ == 0 && first && len) {
			snprintf(first, len, "%s", line);
		}
	}
	free(line);
	fclose(fp);
	return count;
}

bool procwatch_printable(const char *path, long *bad)
{
	FILE *fp = fopen(path, "r");
	long off = 0;
	int c;

	if (bad) {
		*bad = -1;
	}
	if (fp == NULL) {
		return true;
	}
	while ((c = getc(fp)) != EOF) {
		if (c != '\n' && (c < 0x20 || c > 0x7e)) {
			if (bad) {
				*bad = off;
			}
			fclose(fp);
			return false;
		}
		off++;
	}
	fclose(fp);
	return true;
}
