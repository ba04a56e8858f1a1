# Models of the users actor are added with its issue.
