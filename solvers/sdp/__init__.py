"""Semidefinite bounds of one row and of a layer: Shor model, barrier and primal-dual solvers, batched, QCR."""
