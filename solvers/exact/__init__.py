"""Exact methods: enumeration, SCIP MIP, Frank-Wolfe branch-and-bound."""
