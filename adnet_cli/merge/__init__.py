"""From files to a merge: brackets (exposures, frame choice, response, alignment), the classical merges,
the one merge engine, batch mode and its grouping, and the --json reports."""
