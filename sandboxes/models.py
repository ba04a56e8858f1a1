# Models of the sandboxes actor are added with its issue.
