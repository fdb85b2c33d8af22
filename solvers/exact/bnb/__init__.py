"""Frank-Wolfe branch-and-bound (after Boscia.jl): solve loop, node heuristics, bandits."""
