"""The harness: runs solvers over instance sets, checks every answer, writes records and leaderboards."""
