graph [
  directed 0
  node [ id 0 label "eu" ]
  node [ id 1 label "us" ]
  edge [ source 0 target 1 latency "40 ms" ]
  edge [ source 1 target 0 latency "45 ms" ]
]
