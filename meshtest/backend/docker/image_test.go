package docker

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTagsKey: build tags change a package image's content tag, since they
// change the binary; no tags change nothing, so images built before tags
// existed are still found.
func TestTagsKey(t *testing.T) {
	assert.Empty(t, tagsKey(nil))
	assert.NotEqual(t, tagsKey([]string{"remove_all_sd"}), tagsKey([]string{"remove_all_sd", "netgo"}))
	assert.NotEqual(t, tagsKey([]string{"a"}), tagsKey(nil))
}
