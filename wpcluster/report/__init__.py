"""Reports: the run's bundle, JUnit, timelines, the browser check, versions, time tables, rejudging."""
