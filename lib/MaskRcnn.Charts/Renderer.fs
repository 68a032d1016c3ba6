namespace MaskRcnn.Charts

open System
open System.Text.Json
open Plotly.NET
open Plotly.NET.LayoutObjects

/// Builds Plotly charts from a small JSON spec (see MaskRcnn.Visualization.ChartSpec on the C# side):
/// { "kind": "lines" | "points" | "bars" | "histogram" | "heatmap", "title", "x_title", "y_title",
///   "width", "height", "series": [ { "name", "x": [...], "y": [...], "labels": [...], "z": [[...]] } ] }
type Renderer =
    static member private Numbers (e: JsonElement) (name: string) : float[] =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.Array -> [| for x in v.EnumerateArray() -> x.GetDouble() |]
        | _ -> [||]

    static member private Strings (e: JsonElement) (name: string) : string[] =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.Array -> [| for x in v.EnumerateArray() -> x.ToString() |]
        | _ -> [||]

    static member private Text (e: JsonElement) (name: string) (fallback: string) =
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.String -> v.GetString()
        | _ -> fallback

    static member private Series (kind: string) (s: JsonElement) : GenericChart =
        let name = Renderer.Text s "name" ""
        let x = Renderer.Numbers s "x"
        let y = Renderer.Numbers s "y"
        let labels = Renderer.Strings s "labels"
        match kind with
        | "lines" -> Chart.Line(x = x, y = y, Name = name, ShowMarkers = false)
        | "points" -> Chart.Point(x = x, y = y, Name = name)
        | "bars" ->
            let keys = if labels.Length > 0 then labels else x |> Array.map string
            Chart.Column(values = y, Keys = keys, Name = name)
        | "histogram" -> Chart.Histogram(X = x, Name = name, Opacity = 0.75)
        | "heatmap" ->
            let z =
                match s.TryGetProperty "z" with
                | true, v -> [| for row in v.EnumerateArray() -> [| for c in row.EnumerateArray() -> c.GetDouble() |] |]
                | _ -> [||]
            let ylabels = Renderer.Strings s "y_labels"
            Chart.Heatmap(zData = z, X = labels, Y = ylabels, ShowScale = true)
        | other -> failwithf "unknown chart kind '%s'" other

    /// The chart for a spec: an HTML fragment (a div and its script, plotly.js from the CDN) for notebooks,
    /// or a whole self-contained page (plotly.js inlined) for files.
    static member Render(specJson: string, selfContained: bool) : string =
        use doc = JsonDocument.Parse specJson
        let spec = doc.RootElement
        let kind = Renderer.Text spec "kind" "lines"
        let series =
            match spec.TryGetProperty "series" with
            | true, v -> [ for s in v.EnumerateArray() -> Renderer.Series kind s ]
            | _ -> []
        let width = match spec.TryGetProperty "width" with | true, v -> v.GetInt32() | _ -> 720
        let height = match spec.TryGetProperty "height" with | true, v -> v.GetInt32() | _ -> 420
        let chart =
            Chart.combine series
            |> Chart.withTitle (Renderer.Text spec "title" "")
            |> Chart.withXAxisStyle (TitleText = Renderer.Text spec "x_title" "")
            |> Chart.withYAxisStyle (TitleText = Renderer.Text spec "y_title" "")
            |> Chart.withSize (width, height)
        let chart =
            if kind = "histogram" then chart |> Chart.withLayout (Layout.init (BarMode = StyleParam.BarMode.Overlay)) else chart
        if selfContained then
            chart
            |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
            |> GenericChart.toEmbeddedHTML
        else
            GenericChart.toChartHTML chart
