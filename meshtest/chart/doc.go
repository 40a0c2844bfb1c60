// Package chart draws the pictures of a mesh experiment with go-chart:
// figures over time ([TimeChart]), with the run's faults marked across
// them ([Marker]), and cost against a parameter with its fitted line
// ([ScatterFit]), as PNG or SVG.
//
// It takes plain numbers, not recordings, so that it stays independent of
// how they were measured, and it smooths over go-chart's sharp edges: a
// line of one point, a constant line or NaN values render instead of
// failing, Y values in bytes are labelled in kB/MB/GB, axes always start at
// zero so that heights compare honestly, the Y axis sits on the left, and
// the legend sits beside the plot instead of over the data.
package chart
