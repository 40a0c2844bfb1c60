package meshtest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadSummary(t *testing.T) {
	data, err := json.Marshal(Summary{Schema: "meshtest/summary", SchemaVersion: SummarySchemaVersion, Run: "star-1"})
	require.NoError(t, err)
	s, err := ReadSummary(data)
	require.NoError(t, err)
	assert.Equal(t, "star-1", s.Run)

	for _, doc := range []string{
		`{"schema":"meshtest/summary","schema_version":0}`,
		`{"schema":"meshtest/summary","schema_version":99}`,
		`{"schema":"meshtest/baseline","schema_version":1}`,
	} {
		_, err := ReadSummary([]byte(doc))
		var se *SchemaError
		require.True(t, errors.As(err, &se), doc)
		assert.ErrorContains(t, err, "re-run the experiment to regenerate it", doc)
	}
	_, err = ReadSummary([]byte("{"))
	assert.Error(t, err)
}
