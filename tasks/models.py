# Models of the tasks actor are added with its issue.
