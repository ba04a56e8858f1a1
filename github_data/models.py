# Models of the github_data actor are added with its issue.
