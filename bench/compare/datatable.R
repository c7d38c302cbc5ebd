# data.table as a peer of ndshard for bench/compare/run.py: ONE operation per run, one JSON line.
#
#   Rscript datatable.R --op fwrite|fread --dtype f8|f4 --threads N --source SRC.npy
#                       [--input FILE | --output FILE] [--dry] [--no-check]
#
# fwrite FILE: the source as a data.table (one double column per array column), tab-separated, no
#   header, data.table's defaults otherwise (15 significant digits).
# fread FILE: tab-separated, no header; the result stays a data.table of double columns.
# Both with setDTthreads(N). The source is read before the clock, in 1 MiB pieces straight into
# preallocated columns, so setting it up peaks at its final size (the --dry baseline sees the same).
# fread's result is compared with SRC bit for bit after the clock, 1 MiB at a time; for an f4
# source the doubles are rounded to float32 first, as any float32 consumer would.

args <- commandArgs(trailingOnly = TRUE)
opt <- list(op = "", dtype = "f8", threads = 2L, source = "", input = "", output = "",
            dry = FALSE, check = TRUE)
i <- 1L
while (i <= length(args)) {
  a <- args[[i]]
  if (a == "--dry") {
    opt$dry <- TRUE
  } else if (a == "--no-check") {
    opt$check <- FALSE
  } else {
    key <- sub("^--", "", a)
    if (!key %in% names(opt) || i == length(args)) stop("bad argument ", a)
    opt[[key]] <- args[[i + 1L]]
    i <- i + 1L
  }
  i <- i + 1L
}
threads <- as.integer(opt$threads)
size <- if (opt$dtype == "f8") 8L else 4L

emit <- function(fields) {
  base <- sprintf('"driver": "datatable", "op": "%s", "dtype": "%s", "threads": %d',
                  opt$op, opt$dtype, threads)
  cat("{", paste(c(base, fields), collapse = ", "), "}\n", sep = "")
}

if (!requireNamespace("data.table", quietly = TRUE)) {
  emit('"skipped": "R package data.table not installed"')
  quit(status = 0)
}
suppressPackageStartupMessages(library(data.table))
setDTthreads(threads)

# rows, columns and where the data starts in a .npy file numpy wrote (2-d, C order)
npy_info <- function(path) {
  con <- file(path, "rb")
  on.exit(close(con))
  magic <- readBin(con, "raw", 8L)
  major <- as.integer(magic[7L])
  hlen <- if (major == 1L) {
    readBin(con, "integer", 1L, size = 2L, signed = FALSE, endian = "little")
  } else {
    readBin(con, "integer", 1L, size = 4L, endian = "little")
  }
  header <- readChar(con, hlen, useBytes = TRUE)
  shape <- sub(".*'shape': *\\(([^)]*)\\).*", "\\1", header)
  dims <- as.numeric(regmatches(shape, gregexpr("[0-9]+", shape))[[1L]])
  list(rows = dims[1L], cols = dims[2L], offset = 8 + (if (major == 1L) 2 else 4) + hlen)
}

# calls fn(con, first_row, n_rows) over the source's rows, about 1 MiB at a time
for_each_piece <- function(path, fn) {
  h <- npy_info(path)
  con <- file(path, "rb")
  on.exit(close(con))
  seek(con, h$offset)
  step <- max(1, floor(2^20 / (h$cols * size)))
  for (first in seq(1, h$rows, by = step)) fn(con, h, first, min(step, h$rows - first + 1))
}

load_source <- function(path) {
  h <- npy_info(path)
  dt <- setDT(lapply(seq_len(h$cols), function(j) numeric(h$rows)))
  for_each_piece(path, function(con, h, first, n) {
    m <- matrix(readBin(con, "double", n * h$cols, size = size, endian = "little"),
                nrow = n, byrow = TRUE)
    rows <- first:(first + n - 1)
    for (j in seq_len(h$cols)) set(dt, i = rows, j = j, value = m[, j])
  })
  dt
}

count_mismatches <- function(dt, path) {
  h <- npy_info(path)
  if (nrow(dt) != h$rows || ncol(dt) != h$cols) return(max(nrow(dt) * ncol(dt), h$rows * h$cols))
  bad <- 0
  for_each_piece(path, function(con, h, first, n) {
    ref <- readBin(con, "raw", n * h$cols * size)
    # row-major doubles, written back as the source's element type (float32 rounds here)
    mine <- writeBin(as.vector(t(as.matrix(dt[first:(first + n - 1)]))), raw(), size = size,
                     endian = "little")
    bad <<- bad + sum(colSums(matrix(mine != ref, nrow = size)) > 0)
  })
  bad
}

if (opt$op == "fwrite") {
  dt <- load_source(opt$source)
  if (opt$dry) {
    emit('"dry": true')
    quit(status = 0)
  }
  t0 <- Sys.time()
  fwrite(dt, opt$output, sep = "\t", col.names = FALSE, nThread = threads)
  seconds <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  emit(sprintf('"seconds": %.6f, "values": %.0f, "mismatches": -1', seconds, nrow(dt) * ncol(dt)))
} else if (opt$op == "fread") {
  if (opt$dry) {
    emit('"dry": true')
    quit(status = 0)
  }
  t0 <- Sys.time()
  dt <- fread(opt$input, sep = "\t", header = FALSE, nThread = threads)
  seconds <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  bad <- if (opt$check) count_mismatches(dt, opt$source) else -1
  emit(sprintf('"seconds": %.6f, "values": %.0f, "mismatches": %.0f', seconds,
               nrow(dt) * ncol(dt), bad))
} else {
  stop("unknown --op ", opt$op)
}
