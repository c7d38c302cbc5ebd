# data.table fread / fwrite on the reference file, every core (setDTthreads(0)).
# Usage: Rscript peers.R read|write <file.tsv> <out.tsv>
# Prints "data.table fread|fwrite <wall seconds> <cpu seconds>" (CPU: user + system, all threads).
suppressMessages(library(data.table))
setDTthreads(0)
args <- commandArgs(trailingOnly = TRUE)
d <- fread(args[2], sep = "\t", header = FALSE)
if (args[1] == "read") {
  t <- system.time(d <- fread(args[2], sep = "\t", header = FALSE))
  op <- "fread"
} else {
  t <- system.time(fwrite(d, args[3], sep = "\t", col.names = FALSE))
  op <- "fwrite"
}
cat(sprintf("data.table %s %.4f %.4f\n", op, t[["elapsed"]], t[["user.self"]] + t[["sys.self"]]))
