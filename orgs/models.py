# Models of the orgs actor are added with its issue.
