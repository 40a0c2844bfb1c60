graph [
  node [ id 0 label "eu" ]
  node [ id 1 label "us"
