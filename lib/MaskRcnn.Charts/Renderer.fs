namespace MaskRcnn.Charts

open System
open System.IO
open System.Text.Json
open Plotly.NET
open Plotly.NET.LayoutObjects
open Plotly.NET.TraceObjects

/// Builds Plotly charts from the JSON of a resolved MaskRcnn.Visualization.ChartSpec (colours and histogram bins
/// already chosen on the C# side, where the static picture is drawn from the same spec):
/// { "kind": "lines" | "points" | "bars" | "histogram" | "heatmap" | "parallel", "title", "x_title", "y_title",
///   "z_title", "width", "height", "log_y", "y_range", "stacked", "x_marks": [ { "x", "label" } ],
///   "bins": { "start", "end", "size" },
///   "series": [ { "name", "x", "y", "labels", "z", "y_labels", "color", "dash" } ] }
type Renderer =
    static member private Numbers (e: JsonElement) (name: string) : float[] =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.Array ->
            // undefined values arrive as "NaN" (System.Text.Json's named literals)
            [| for x in v.EnumerateArray() -> if x.ValueKind = JsonValueKind.Number then x.GetDouble() else nan |]
        | _ -> [||]

    static member private Strings (e: JsonElement) (name: string) : string[] =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.Array -> [| for x in v.EnumerateArray() -> x.ToString() |]
        | _ -> [||]

    static member private Text (e: JsonElement) (name: string) (fallback: string) =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.String -> v.GetString()
        | _ -> fallback

    static member private Flag (e: JsonElement) (name: string) =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.True -> true
        | _ -> false

    static member private Number (e: JsonElement) (name: string) (fallback: float) =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.Number -> v.GetDouble()
        | _ -> fallback

    /// Integers as such, other values with three significant digits (as the static picture writes them).
    static member private Format (v: float) =
        if abs (v - round v) < 1e-9 && abs v < 1e9 then string (int64 (round v)) else v.ToString("G3")

    static member private Series (spec: JsonElement) (s: JsonElement) : GenericChart =
        let kind = Renderer.Text spec "kind" "lines"
        let name = Renderer.Text s "name" ""
        let x = Renderer.Numbers s "x"
        let y = Renderer.Numbers s "y"
        let labels = Renderer.Strings s "labels"
        let color = Color.fromHex (Renderer.Text s "color" "#1f77b4")
        match kind with
        | "lines" ->
            let dash = if Renderer.Flag s "dash" then StyleParam.DrawingStyle.Dash else StyleParam.DrawingStyle.Solid
            Chart.Line(x = x, y = y, Name = name, ShowMarkers = (x.Length <= 30), LineColor = color, LineDash = dash,
                       MarkerColor = color, LineWidth = 2.)
        | "points" -> Chart.Point(x = x, y = y, Name = name, MarkerColor = color)
        | "bars" ->
            Chart.Column(values = y, Keys = labels, Name = name, MarkerColor = color,
                         MultiText = (y |> Array.map Renderer.Format), TextPosition = StyleParam.TextPosition.Outside)
        | "histogram" ->
            let bins = spec.GetProperty "bins"
            let xbins = Bins.init (Start = Renderer.Number bins "start" 0., End = Renderer.Number bins "end" 1.,
                                   Size = Renderer.Number bins "size" 0.1)
            let opacity = if Renderer.Flag spec "stacked" then 0.85 else 0.6
            Chart.Histogram(X = x, Name = name, Opacity = opacity, XBins = xbins, MarkerColor = color)
        | "heatmap" ->
            let z =
                match s.TryGetProperty "z" with
                | true, v -> [| for row in v.EnumerateArray() -> [| for c in row.EnumerateArray() -> c.GetDouble() |] |]
                | _ -> [||]
            let ylabels = Renderer.Strings s "y_labels"
            let colorBar = ColorBar.init (Title = Title.init (Text = Renderer.Text spec "z_title" ""))
            Chart.Heatmap(zData = z, X = labels, Y = ylabels, ShowScale = true, ColorBar = colorBar,
                          ColorScale = StyleParam.Colorscale.Viridis, ReverseYAxis = true)
        | other -> failwithf "unknown chart kind '%s'" other

    /// The value of each heatmap cell, written on the cell.
    static member private CellLabels (spec: JsonElement) : Annotation list =
        if Renderer.Text spec "kind" "" <> "heatmap" then []
        else
            let s = (spec.GetProperty "series").[0]
            let columns = Renderer.Strings s "labels"
            let rows = Renderer.Strings s "y_labels"
            let z = [| for row in (s.GetProperty "z").EnumerateArray() -> [| for c in row.EnumerateArray() -> c.GetDouble() |] |]
            let all = z |> Array.concat
            let lo, hi = (if all.Length = 0 then 0., 0. else Array.min all, Array.max all)
            [ for r in 0 .. rows.Length - 1 do
                for c in 0 .. columns.Length - 1 do
                    let v = z.[r].[c]
                    let dark = hi > lo && (v - lo) / (hi - lo) < 0.6
                    let font = Font.init (Size = 18., Color = (if dark then Color.fromString "white" else Color.fromString "black"))
                    yield Annotation.init (X = columns.[c], Y = rows.[r], Text = Renderer.Format v, ShowArrow = false, Font = font) ]

    /// Vertical reference lines and their labels.
    static member private Marks (spec: JsonElement) : Shape list * Annotation list =
        match spec.TryGetProperty "x_marks" with
        | true, v when v.ValueKind = JsonValueKind.Array ->
            let marks = [ for m in v.EnumerateArray() -> Renderer.Number m "x" 0., Renderer.Text m "label" "" ]
            let line = Line.init (Color = Color.fromString "rgba(0,0,0,0.6)", Dash = StyleParam.DrawingStyle.Dash, Width = 1.5)
            [ for (x, _) in marks -> Shape.init (ShapeType = StyleParam.ShapeType.Line, X0 = x, X1 = x, Y0 = 0., Y1 = 1., Yref = "paper", Line = line) ],
            [ for (x, label) in marks -> Annotation.init (X = x, Y = 1.0, YRef = "paper", Text = label, ShowArrow = false, YAnchor = StyleParam.YAnchorPosition.Bottom) ]
        | _ -> [], []

    /// Parallel coordinates: one dimension per series (values in "y", ticks at "x" with texts "labels"), lines coloured
    /// by the last dimension; lines with an undefined (NaN) value are left out, as in the static picture.
    static member private Parallel (spec: JsonElement) : GenericChart =
        let axes = [ for s in (spec.GetProperty "series").EnumerateArray() -> s ]
        let values = axes |> List.map (fun s -> Renderer.Numbers s "y")
        let count = if values.IsEmpty then 0 else values.Head.Length
        let keep = [| for j in 0 .. count - 1 do if values |> List.forall (fun v -> Double.IsFinite v.[j]) then yield j |]
        let dimension (s: JsonElement) (v: float[]) =
            let ticks = Renderer.Numbers s "x"
            let kept = keep |> Array.map (fun j -> v.[j])
            let all = Array.append kept ticks
            let lo, hi = (if all.Length = 0 then 0., 1. else Array.min all, Array.max all)
            let range = if hi - lo < 1e-12 then StyleParam.Range.MinMax(lo - 0.5, hi + 0.5) else StyleParam.Range.MinMax(lo, hi)
            if ticks.Length > 0 then
                Dimension.initParallel(Label = Renderer.Text s "name" "", Values = kept, Range = range,
                                       Tickvals = ticks, TickText = Renderer.Strings s "labels")
            else Dimension.initParallel(Label = Renderer.Text s "name" "", Values = kept, Range = range)
        let colours = keep |> Array.map (fun j -> (List.last values).[j])
        let colourBar = ColorBar.init (Title = Title.init (Text = Renderer.Text spec "z_title" ""))
        let line = Line.init (Color = Color.fromColorScaleValues colours, Colorscale = StyleParam.Colorscale.Viridis,
                              ShowScale = true, ColorBar = colourBar)
        Chart.ParallelCoord(dimensions = List.map2 dimension axes values, Line = line)

    static member private Build (specJson: string) : GenericChart =
        use doc = JsonDocument.Parse specJson
        let spec = doc.RootElement
        if Renderer.Text spec "kind" "lines" = "parallel" then
            Renderer.Parallel spec
            |> Chart.withTitle (Renderer.Text spec "title" "")
            |> Chart.withSize (int (Renderer.Number spec "width" 860.), int (Renderer.Number spec "height" 460.))
        else Renderer.Axes spec

    /// Every kind drawn on x/y axes (all but "parallel").
    static member private Axes (spec: JsonElement) : GenericChart =
        let kind = Renderer.Text spec "kind" "lines"
        let series =
            match spec.TryGetProperty "series" with
            | true, v -> [ for s in v.EnumerateArray() -> Renderer.Series spec s ]
            | _ -> []
        let width = int (Renderer.Number spec "width" 720.)
        let height = int (Renderer.Number spec "height" 420.)
        let logY = Renderer.Flag spec "log_y"
        let yRange = Renderer.Numbers spec "y_range"
        let yTitle = Renderer.Text spec "y_title" "" + (if logY then " (log scale)" else "")
        // Bars carry their value above them: leave room for it (on a log axis, 0.4 decade above the highest bar, which
        // stand on the decade below the lowest as in the static picture).
        let yRange =
            if kind = "bars" && yRange.Length = 0 then
                let values = spec.GetProperty("series").EnumerateArray() |> Seq.collect (fun s -> Renderer.Numbers s "y") |> Seq.filter Double.IsFinite |> Seq.toArray
                let top = values |> Array.fold max 0.
                let positive = values |> Array.filter (fun v -> v > 0.)
                if logY && positive.Length > 0 then [| 10. ** floor (log10 (Array.min positive)); top * 2.5 |]
                elif not logY && top > 0. then [| 0.; top * 1.15 |]
                else yRange
            else yRange
        let chart =
            Chart.combine series
            |> Chart.withTitle (Renderer.Text spec "title" "")
            |> Chart.withXAxisStyle (TitleText = Renderer.Text spec "x_title" "")
        let chart =
            match logY, yRange with
            // A log axis labelled at powers of ten only (dtick 1 decade): plotly's own minor labels "2" and "5" read as
            // linear values, and the static picture labels decades only too.
            | true, _ ->
                let range = match yRange with [| lo; hi |] -> Some (StyleParam.Range.MinMax (log10 lo, log10 hi)) | _ -> None
                chart
                |> Chart.withYAxis (LinearAxis.init (Title = Title.init (Text = yTitle), AxisType = StyleParam.AxisType.Log, ?Range = range, DTick = 1))
            | false, [| lo; hi |] -> chart |> Chart.withYAxisStyle (TitleText = yTitle, MinMax = (lo, hi))
            | false, _ -> chart |> Chart.withYAxisStyle (TitleText = yTitle)
        let shapes, markLabels = Renderer.Marks spec
        let annotations = Renderer.CellLabels spec @ markLabels
        let chart = if shapes.IsEmpty then chart else chart |> Chart.withShapes shapes
        let chart = if annotations.IsEmpty then chart else chart |> Chart.withAnnotations annotations
        let chart = chart |> Chart.withSize (width, height)
        let showLegend = kind <> "heatmap" && (series.Length > 1 || kind = "histogram")
        let chart = chart |> Chart.withLayout (Layout.init (ShowLegend = showLegend))
        let barMode = if Renderer.Flag spec "stacked" then StyleParam.BarMode.Stack else StyleParam.BarMode.Overlay
        if kind = "histogram" then chart |> Chart.withLayout (Layout.init (BarMode = barMode)) else chart

    /// The figure as Plotly JSON ({ "data": [...], "layout": {...} }), for a notebook output to draw with plotly.js.
    static member Figure(specJson: string) : string =
        Renderer.Build specJson |> GenericChart.toFigureJson

    /// A whole self-contained page (plotly.js inlined), for files.
    static member Page(specJson: string) : string =
        Renderer.Build specJson
        |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
        |> GenericChart.toEmbeddedHTML

    /// plotly.js itself (minified), as Plotly.NET embeds it, and its version.
    static member PlotlyJs() : string * string =
        let assembly = typeof<GenericChart>.Assembly
        let name = assembly.GetManifestResourceNames() |> Array.find (fun n -> n.EndsWith(".min.js"))
        use stream = assembly.GetManifestResourceStream name
        use reader = new StreamReader(stream)
        let version = name.Replace("Plotly.NET.plotly-", "").Replace(".min.js", "")
        reader.ReadToEnd(), version
