"""Score baselines (magnitude, Wanda, RIA), SparseGPT and SparseSwaps."""
