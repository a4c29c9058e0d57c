package main

import (
	"io"

	"zhiyan/gguf"
	"zhiyan/internal/progress"
	"zhiyan/quantize"
)

func quantizeCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quantize", "quantize [--pure] IN.gguf OUT.gguf TYPE", stderr)
	pure := fs.Bool("pure", false, "give every matrix the type itself, without the per-tensor rules of the _M/_S mixes")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != 3 {
		fs.Usage()
		return errUsage
	}
	ft, err := quantize.ParseFileType(pos[2])
	if err != nil {
		return err
	}
	in, err := gguf.Open(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	var bar *progress.Bar
	err = quantize.Convert(in, pos[1], ft, quantize.Options{
		Pure: *pure,
		Progress: func(done, total int64) {
			if bar == nil {
				bar = progress.New(stderr, "quantize "+ft.Name, total, "B")
			}
			bar.Add(done - bar.Done())
		},
	})
	if bar != nil {
		bar.Finish()
	}
	return err
}
